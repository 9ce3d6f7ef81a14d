#!/usr/bin/env python3
"""PyTorch eager timing of the wdp-models network, the peer of `benches/forward.rs`.

Builds the reference model of `reference_model.py` (same architecture and parameter names as
the Rust model) from a preset YAML in `models/presets/`, then times, in eval mode under
`torch.no_grad()`, one frame `[1, 2, A, S, T]`:

- `infer`: encoder, upsampler, backbone, person head (centre, size, offset), ROIAlign of
  `--people` boxes and the DensePose head: the work of the Rust `WifiDensePose::infer` with
  `--people` detections (the Rust bench sets the score threshold to 0 so it always decodes
  `max_people` boxes);
- `dense`: encoder, upsampler, backbone and person head only.

    python scripts/bench_pytorch.py --presets lite gfl --threads 2 --iterations 30

Prints one JSON object on stdout:
`{preset: {"ms_median", "ms_p90", "iterations", "dense_ms_median", "params", "torch"}}`
(`params`: trainable parameters of the whole model, temporal module included, as the Rust
`count_parameters`).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import WifiDensePose, roi_align  # noqa: E402

PRESETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "presets")


def load_preset(name: str) -> dict:
    path = name if name.endswith((".yaml", ".yml")) else os.path.join(PRESETS, f"{name}.yaml")
    with open(path) as f:
        return yaml.safe_load(f)


def timed(fn, warmup: int, iterations: int) -> list:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return sorted(ms)


def p90(ms: list) -> float:
    return ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]


def bench(name: str, args) -> dict:
    preset = load_preset(name)
    torch.manual_seed(0)
    model = WifiDensePose(preset, args.antennas, args.subcarriers, args.window).eval()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    window = torch.randn(1, 2, args.antennas, args.subcarriers, args.window)
    up = preset["upsampler"]
    h, w = up["out_height"], up["out_width"]
    # `people` boxes of a quarter of the image each (ROIAlign's cost does not depend on where).
    rois = torch.tensor(
        [[0.0, (i * w / 8) % (w / 2), (i * h / 8) % (h / 2), (i * w / 8) % (w / 2) + w / 2, (i * h / 8) % (h / 2) + h / 2]
         for i in range(args.people)]
    )

    def dense():
        fmap = model.backbone(model.upsampler(model.encoder(window)))
        p = model.head.person
        return fmap, p.center(fmap), p.size(fmap), p.offset(fmap)

    def infer():
        fmap, *_ = dense()
        pooled = roi_align(fmap, rois, 1.0 / model.stride, model.roi_size, model.sampling_ratio)
        return model.head.densepose(pooled)

    iters = args.paper_iterations if name == "paper" else args.iterations
    warmup = 1 if name == "paper" else args.warmup
    with torch.no_grad():
        ms = timed(infer, warmup, iters)
        dense_ms = timed(dense, 1 if name == "paper" else args.warmup, iters)
    print(f"{name}: {params} parameters, infer median {statistics.median(ms):.2f} ms", file=sys.stderr)
    return {
        "ms_median": statistics.median(ms),
        "ms_p90": p90(ms),
        "iterations": iters,
        "dense_ms_median": statistics.median(dense_ms),
        "params": params,
        "torch": torch.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["lite", "gfl"])
    parser.add_argument("--antennas", type=int, default=9)
    parser.add_argument("--subcarriers", type=int, default=30)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--paper-iterations", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--people", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({name: bench(name, args) for name in args.presets}))


if __name__ == "__main__":
    main()
