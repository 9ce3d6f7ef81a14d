#!/usr/bin/env python3
"""PyTorch eager peer of `models/wdp-train/examples/train_step.rs`: the same network
(models/wdp-models/scripts/reference_model.py, built from the same preset), the same batch shape
and number of people, and the same step: forward with ROIs, the losses of the training loop
(translation MSE, centre focal, size/offset L1, part cross-entropy, UV smooth-L1, keypoint
heatmap MSE and spatial cross-entropy), backward, global-norm clipping, AdamW.

    python scripts/bench_train_pytorch.py --steps 30 --batch 8 --people 12 --threads 2
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models", "wdp-models", "scripts"))
from reference_model import WifiDensePose  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="lite")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--people", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(os.path.join(ROOT, "models", "presets", f"{args.preset}.yaml")) as f:
        preset = yaml.safe_load(f)
    a, s, t = 9, 30, 100
    model = WifiDensePose(preset, a, s, t).train()
    # The Rust trainer leaves the temporal module out of the step: so does this one.
    params = [p for n, p in model.named_parameters() if not n.startswith("temporal.")]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    up = preset["upsampler"]
    h, w = up["out_height"], up["out_width"]
    b, k = args.batch, args.people
    window = torch.randn(b, 2, a, s, t)
    rois = torch.tensor([[i % b, 20.0, 10.0, 60.0, 90.0] for i in range(k)])
    r = preset["head"]["roi_size"] * preset["head"]["output_upsample"]
    spatial_t = torch.rand(b, 3, h, w)
    hm = torch.zeros(b, 1, h // 4, w // 4)
    hm[:, :, 10, 12] = 1.0
    size_t, off_t, mask_t = torch.rand(b, 2, h // 4, w // 4), torch.rand(b, 2, h // 4, w // 4), hm.clone()
    parts_t = torch.randint(0, 25, (k, r, r))
    uv_t = torch.rand(k, 2, r, r)
    kp_t = torch.rand(k, 17, r, r)

    def step() -> None:
        features = model.encoder(window)
        spatial = model.upsampler(features)
        fmap = model.backbone(spatial)
        head = model.head.person
        center, size, offset = head.center(fmap), head.size(fmap), head.offset(fmap)
        from reference_model import roi_align
        pooled = roi_align(fmap, rois, 1.0 / model.stride, model.roi_size, model.sampling_ratio)
        mask, uv, kp = model.head.densepose(pooled)
        translation = ((spatial - spatial_t) ** 2 * (1 + 4 * spatial_t[:, :1])).mean()
        p = torch.sigmoid(center)
        focal = -(F.logsigmoid(center) * (1 - p) ** 2 * hm
                  + F.logsigmoid(-center) * p ** 2 * (1 - hm) ** 4).sum() / hm.sum()
        reg = ((size - size_t).abs() * mask_t).sum() / (2 * mask_t.sum()) + \
            ((offset - off_t).abs() * mask_t).sum() / (2 * mask_t.sum())
        ce = F.cross_entropy(mask, parts_t)
        uvp = uv.view(k, 24, 2, r, r).gather(1, (parts_t - 1).clamp(min=0).view(k, 1, 1, r, r).expand(k, 1, 2, r, r)).squeeze(1)
        uv_loss = (F.smooth_l1_loss(uvp, uv_t, reduction="none") * (parts_t > 0).unsqueeze(1)).sum() / ((parts_t > 0).sum() * 2).clamp(min=1)
        kp_mse = F.mse_loss(kp, kp_t)
        logp = F.log_softmax(kp.reshape(k * 17, -1), 1)
        tgt = kp_t.reshape(k * 17, -1)
        kp_ce = -(tgt / tgt.sum(1, keepdim=True) * logp).sum(1).mean()
        loss = 10 * translation + focal + 0.1 * reg + ce + 0.5 * uv_loss + 100 * kp_mse + kp_ce
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    for _ in range(3):
        step()
    ms = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(ms)
    print(json.dumps({"ms_per_step_median": med, "samples_per_s": b * 1e3 / med, "steps": args.steps,
                      "batch": b, "people_in_batch": k, "threads": args.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
