#!/usr/bin/env python3
"""The pipeline benchmark: per-stage and end-to-end latency (p50/p99) and throughput of the
inference dataflows, split (dataflows/inference.yml) and fused (dataflows/inference-fused.yml),
for each model preset, on this machine, with the model's forward in PyTorch eager timed in the
same run (models/wdp-models/scripts/bench_pytorch.py, the same architecture).

    .venv/bin/python scripts/bench_pipeline.py [--presets lite gfl paper] [--seconds 20]

Two runs per dataflow and preset:
- latency: the simulator paced in real time (100 packets/s, a window every 50 ms = 20 frames/s
  offered), as deployed; per-stage and end-to-end figures come from the latency trace each stage
  appends to the messages (the pose-sink's latency.json);
- throughput: the simulator as fast as it can go with lossless queues, frames/s at the sink.
`lite` runs the shipped trained checkpoint; other presets run seeded random weights (timing does
not depend on the weights, except through how many people are decoded).
Writes a JSON file (default out/bench/pipeline.json) and prints a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import dataflows  # noqa: E402  (scripts/bench/dataflows.py)

ROOT = dataflows.ROOT
MODEL_NODES = {"encoder", "upsampler", "densepose", "densepose-fused"}
CHECKPOINT = os.path.join(ROOT, "models", "weights", "lite-sim.safetensors")
PREPROCESS = os.path.join(ROOT, "models", "weights", "lite-sim.preprocess.yaml")


def prepare(flow: str, work: str, preset: str, pacing: str, seconds: float, out: str) -> str:
    """A copy of a real dataflow with absolute paths and the benchmark's settings."""
    doc = dataflows.load(flow)
    for node in doc["nodes"]:
        env = node["env"]
        if node["id"] == "csi-source":
            # The figures in docs/BENCHMARKS.md are of the lab scene (one person).
            env.update({"PACING": pacing, "DURATION_S": str(seconds), "RGB": "false", "SCENE": "lab"})
            # No pictures: neither the camera frame nor the truth the pictures' inset draws.
            node["outputs"] = [o for o in node["outputs"] if o not in ("frame", "boxes")]
        if node["id"] == "csi-preprocess":
            # The figures are of the `lite`-family presets on lite-sim's windows (the main job
            # now ships lite-floor, whose windows are complex: another input layout).
            env["WDP_PREPROCESS_CONFIG"] = PREPROCESS
        if node["id"] in MODEL_NODES:
            env["PRESET"] = preset
            use_weights = preset == "lite" and os.path.exists(CHECKPOINT)
            env["CHECKPOINT"] = CHECKPOINT if use_weights else ""
        if node["id"] == "pose-sink":
            env.update({"OUT_DIR": out, "PNG_EVERY": "0", "GIF_FRAMES": "0"})
            node["inputs"].pop("frame", None)
            node["inputs"].pop("truth", None)
    path = os.path.join(work, f"{preset}-{pacing}-{flow}")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    return path


def run(flow_path: str, timeout: float) -> None:
    wdp = os.path.join(ROOT, "target", "release", "wdp")
    log = flow_path + ".log"
    with open(log, "w") as f:
        done = subprocess.run([wdp, "run", flow_path], stdout=f, stderr=subprocess.STDOUT,
                              timeout=timeout, cwd=os.path.dirname(flow_path),
                              env={**os.environ, "WDP_HOME": ROOT})
    if done.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        sys.exit(f"{flow_path} failed:\n{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=["lite", "gfl", "paper"])
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per run")
    ap.add_argument("--paper-seconds", type=float, default=1.6,
                    help="simulated seconds for `paper` (seconds per frame on a CPU)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench", "pipeline.json"))
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for preset in args.presets:
            seconds = args.paper_seconds if preset == "paper" else args.seconds
            for flow in ["inference.yml", "inference-fused.yml"]:
                for pacing in ["recorded", "fast"]:
                    out = os.path.join(work, f"out-{preset}-{flow}-{pacing}")
                    path = prepare(flow, work, preset, pacing, seconds, out)
                    print(f"{preset} {flow} {pacing} ...", file=sys.stderr, flush=True)
                    run(path, timeout=3600)
                    with open(os.path.join(out, "latency.json")) as f:
                        results.setdefault(preset, {}).setdefault(flow, {})[pacing] = json.load(f)
        eager = subprocess.run(
            [sys.executable, os.path.join(ROOT, "models", "wdp-models", "scripts", "bench_pytorch.py"),
             "--presets", *args.presets, "--threads", str(args.threads), "--iterations", "10"],
            capture_output=True, text=True, check=True)
        pytorch = json.loads(eager.stdout)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"pipeline": results, "pytorch_eager": pytorch}, f, indent=2)

    print("| preset | dataflow | e2e p50 ms | e2e p99 ms | frames/s real time | frames/s max | "
          "model stages p50 ms | PyTorch eager forward ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for preset, flows in results.items():
        for flow, r in flows.items():
            lat, thr = r["recorded"], r["fast"]
            stages = ", ".join(f"{s} {lat['processing'][s]['p50_ms']:.1f}"
                               for s in lat["stages"] if s not in ("preprocess", "temporal"))
            e = pytorch.get(preset, {}).get("ms_median", float("nan"))
            print(f"| {preset} | {flow} | {lat['end_to_end']['p50_ms']:.1f} | "
                  f"{lat['end_to_end']['p99_ms']:.1f} | {lat['throughput_fps']:.1f} | "
                  f"{thr['throughput_fps']:.1f} | {stages} | {e:.1f} |")


if __name__ == "__main__":
    main()
