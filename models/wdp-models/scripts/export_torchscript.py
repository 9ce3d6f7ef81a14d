#!/usr/bin/env python3
"""Export tiny TorchScript stages that keep (or break) the wdp-models stage contracts.

Used by `tests/torchscript.rs`; also a template for researchers replacing a stage:

    python scripts/export_torchscript.py --out DIR [--feature-dim 256] [--height 96] [--width 128]

Writes into DIR:
  encoder.pt         window [B, 2, A, S, T] -> features [B, F]; output = 1*mean(amplitude)
                     + 2*mean(phase) + 0.5 in every feature (fixed weights, so the Rust test
                     can check values)
  upsampler.pt       features [B, F] -> spatial [B, 3, H, W] in [0, 1]
  encoder_broken.pt  like encoder.pt but returns [B, F + 1] (breaks the contract)
  densepose.pt       spatial [1, 3, H, W] -> (keypoints [2, 17, 3], boxes [2, 5],
                     part_index [2, 8, 8] u8, uv [2, 2, 8, 8]): two fixed people
  densepose_broken.pt  like densepose.pt with part_index as int64 (breaks the contract)
"""

import argparse
import os

import torch
from typing import Tuple

from torch import Tensor, nn


class TinyEncoder(nn.Module):
    def __init__(self, feature_dim: int):
        super().__init__()
        self.proj = nn.Linear(2, feature_dim)
        with torch.no_grad():
            self.proj.weight[:, 0] = 1.0
            self.proj.weight[:, 1] = 2.0
            self.proj.bias.fill_(0.5)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        pooled = window.mean(dim=(2, 3, 4))  # [B, 2]
        return self.proj(pooled)  # [B, F]


class TinyUpsampler(nn.Module):
    def __init__(self, feature_dim: int, height: int, width: int):
        super().__init__()
        self.height = height
        self.width = width
        self.proj = nn.Linear(feature_dim, 3 * 4 * 4)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.proj(features).view(features.shape[0], 3, 4, 4)
        x = nn.functional.interpolate(x, size=(self.height, self.width), mode="bilinear", align_corners=False)
        return torch.sigmoid(x)  # [B, 3, H, W]


class BrokenEncoder(nn.Module):
    def __init__(self, feature_dim: int):
        super().__init__()
        self.inner = TinyEncoder(feature_dim)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        out = self.inner(window)
        return torch.cat([out, out[:, :1]], dim=1)  # [B, F + 1]: wrong on purpose


class TinyDensePose(nn.Module):
    def __init__(self, height: int, width: int, part_kind: torch.dtype):
        super().__init__()
        self.height = height
        self.width = width
        self.part_kind = part_kind

    def forward(self, spatial: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        h, w = float(self.height), float(self.width)
        boxes = torch.tensor([[0.0, 0.0, w / 2, h / 2, 0.9], [w / 2, h / 2, w, h, 0.8]])
        keypoints = torch.zeros(2, 17, 3)
        keypoints[:, :, 0] = boxes[:, 0:1] + 1.0
        keypoints[:, :, 1] = boxes[:, 1:2] + 2.0
        keypoints[:, :, 2] = 0.5
        part_index = torch.ones(2, 8, 8, dtype=self.part_kind)
        uv = torch.zeros(2, 2, 8, 8) + spatial.mean()
        return keypoints, boxes, part_index, uv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--feature-dim", type=int, default=256)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    modules = {
        "encoder.pt": TinyEncoder(args.feature_dim),
        "upsampler.pt": TinyUpsampler(args.feature_dim, args.height, args.width),
        "encoder_broken.pt": BrokenEncoder(args.feature_dim),
        "densepose.pt": TinyDensePose(args.height, args.width, torch.uint8),
        "densepose_broken.pt": TinyDensePose(args.height, args.width, torch.int64),
    }
    for name, module in modules.items():
        torch.jit.save(torch.jit.script(module.eval()), os.path.join(args.out, name))
    print(f"torch {torch.__version__}: wrote {', '.join(modules)} to {args.out}")


if __name__ == "__main__":
    main()
