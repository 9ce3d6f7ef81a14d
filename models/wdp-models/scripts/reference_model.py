#!/usr/bin/env python3
"""PyTorch reference of the wdp-models network, used by `tests/matches_pytorch.rs`.

Builds the whole model from a preset (JSON, as `serde_json` writes the Rust `Preset`) with
the same attribute names as the Rust modules, scripts it and saves it:

    python scripts/reference_model.py --config preset.json --antennas 9 --subcarriers 30 \\
        --window 100 --out reference.pt

The Rust test copies the TorchScript module's parameters into the Rust model by name
(which checks that every name and shape matches) and compares the outputs of
`forward(window [B, 2, A, S, T], rois [K, 5])`:
(features, spatial, center_logits, size, offset, mask_logits, uv, keypoint_heatmaps,
temporal(features[None])).
"""

import argparse
import json
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def branch(cin: int, h: int, f: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(cin, h, 7, padding=3), nn.BatchNorm1d(h), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(h, 2 * h, 5, padding=2), nn.BatchNorm1d(2 * h), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(2 * h, f, 3, padding=1), nn.BatchNorm1d(f), nn.ReLU(),
    )


class Encoder(nn.Module):
    def __init__(self, c: dict, a: int, s: int, t: int):
        super().__init__()
        f, h = c["feature_dim"], c["hidden_channels"]
        self.a, self.s, self.t = a, s, t
        self.amplitude_norm = nn.BatchNorm2d(a)
        self.phase_norm = nn.BatchNorm2d(a)
        self.amplitude_encoder = branch(a * s, h, f)
        self.phase_encoder = branch(a * s, h, f)
        self.branch_attention = nn.Sequential(nn.Linear(2 * f, f), nn.ReLU(), nn.Linear(f, 2), nn.Softmax(dim=1))
        self.cross_attention = nn.MultiheadAttention(f, c["fusion_heads"], dropout=c["dropout"], batch_first=True)
        self.refinement = nn.Sequential(
            nn.Linear(2 * f, 2 * f), nn.LayerNorm(2 * f), nn.ReLU(), nn.Dropout(c["dropout"]),
            nn.Linear(2 * f, f), nn.LayerNorm(f),
        )

    def forward(self, window: Tensor) -> Tensor:
        b = window.shape[0]
        amp_t = self.amplitude_encoder(self.amplitude_norm(window[:, 0]).reshape(b, self.a * self.s, self.t))
        ph_t = self.phase_encoder(self.phase_norm(window[:, 1]).reshape(b, self.a * self.s, self.t))
        amp, ph = amp_t.mean(-1), ph_t.mean(-1)
        w = self.branch_attention(torch.cat([amp, ph], 1))
        weighted = amp * w[:, 0:1] + ph * w[:, 1:2]
        ta, tp = amp_t.transpose(1, 2), ph_t.transpose(1, 2)
        att_a = self.cross_attention(ta, tp, tp, need_weights=False)[0].mean(1)
        att_p = self.cross_attention(tp, ta, ta, need_weights=False)[0].mean(1)
        return self.refinement(torch.cat([att_a, att_p], 1)) + weighted


class Upsampler(nn.Module):
    def __init__(self, c: dict, f: int):
        super().__init__()
        n = len(c["block_channels"])
        self.c0, self.h0, self.w0 = c["base_channels"], c["out_height"] >> n, c["out_width"] >> n
        self.projection = nn.Sequential(nn.Linear(f, self.c0 * self.h0 * self.w0), nn.ReLU())
        blocks = []
        cin = self.c0
        for cout in c["block_channels"]:
            blocks.append(nn.Sequential(
                nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
            ))
            cin = cout
        self.upsampling_blocks = nn.ModuleList(blocks)
        self.final_conv = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, features: Tensor) -> Tensor:
        x = self.projection(features).view(features.shape[0], self.c0, self.h0, self.w0)
        for blk in self.upsampling_blocks:
            x = blk(x)
        return torch.sigmoid(self.final_conv(x))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        else:
            self.downsample = nn.Sequential()

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.downsample(x))


class Fpn(nn.Module):
    def __init__(self, chans: List[int], f: int):
        super().__init__()
        self.inner_blocks = nn.ModuleList([nn.Conv2d(c, f, 1) for c in chans])
        self.layer_blocks = nn.ModuleList([nn.Conv2d(f, f, 3, padding=1) for _ in chans])

    def forward(self, stages: List[Tensor]) -> List[Tensor]:
        laterals: List[Tensor] = []
        for i, m in enumerate(self.inner_blocks):
            laterals.append(m(stages[i]))
        merged: List[Tensor] = [laterals[3]]
        for i in [2, 1, 0]:
            top = F.interpolate(merged[0], size=(laterals[i].shape[2], laterals[i].shape[3]), mode="nearest")
            merged.insert(0, laterals[i] + top)
        outs: List[Tensor] = []
        for i, m in enumerate(self.layer_blocks):
            outs.append(m(merged[i]))
        return outs


class ResNetFpn(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.conv1 = nn.Conv2d(3, c["stem_channels"], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(c["stem_channels"])
        cin = c["stem_channels"]
        layers = []
        for i, (cout, n) in enumerate(zip(c["stage_channels"], c["stage_blocks"])):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(cin, cout, (1 if i == 0 else 2) if j == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fpn = Fpn(c["stage_channels"], c["fpn_channels"])

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        levels = self.fpn([c2, c3, c4, c5])
        size = (levels[0].shape[2], levels[0].shape[3])
        out = levels[0]
        for lv in levels[1:]:
            out = out + F.interpolate(lv, size=size, mode="bilinear", align_corners=False)
        return out


class Mlp(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int):
        super().__init__()
        self.fc1 = nn.Linear(cin, hidden)
        self.fc2 = nn.Linear(hidden, cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DynamicFilter(nn.Module):
    def __init__(self, h: int, w: int, dim: int, k: int, r: int):
        super().__init__()
        self.h, self.w, self.wf, self.dim, self.k = h, w, w // 2 + 1, dim, k
        self.complex_weight = nn.Parameter(torch.randn(h, self.wf, dim, 2) * 0.02)
        self.reweight = Mlp(dim, max(dim // r, 1), k * dim)
        self.bases = nn.Parameter(torch.ones(k, h, self.wf, dim))

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        freq = torch.fft.rfft2(x.float(), s=(self.h, self.w), dim=(1, 2), norm="ortho")
        freq = freq * torch.view_as_complex(self.complex_weight)
        coeff = self.reweight(x.mean((1, 2))).view(b, self.k, self.dim).softmax(1)
        weights = (coeff.unsqueeze(2) * self.bases.view(1, self.k, self.h * self.wf, self.dim)).sum(1)
        freq = freq * weights.view(b, self.h, self.wf, self.dim)
        return torch.fft.irfft2(freq, s=(self.h, self.w), dim=(1, 2), norm="ortho")


class StaticFilter(nn.Module):
    def __init__(self, h: int, w: int, dim: int):
        super().__init__()
        self.h, self.w = h, w
        self.complex_weight = nn.Parameter(torch.randn(h, w // 2 + 1, dim, 2) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        freq = torch.fft.rfft2(x.float(), s=(self.h, self.w), dim=(1, 2), norm="ortho")
        freq = freq * torch.view_as_complex(self.complex_weight)
        return torch.fft.irfft2(freq, s=(self.h, self.w), dim=(1, 2), norm="ortho")


class GflBlock(nn.Module):
    def __init__(self, h: int, w: int, c: dict):
        super().__init__()
        dim = c["embed_dim"]
        self.norm1 = nn.LayerNorm(dim)
        if c["dynamic"]:
            self.filter = DynamicFilter(h, w, dim, c["num_bases"], c["reweight_reduction"])
        else:
            self.filter = StaticFilter(h, w, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, max(int(round(dim * c["mlp_ratio"])), 1), dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mlp(self.norm2(self.filter(self.norm1(x))))


class PatchEmbed(nn.Module):
    def __init__(self, cin: int, dim: int, p: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, p, stride=p)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class GflBackbone(nn.Module):
    def __init__(self, c: dict, hw: Tuple[int, int]):
        super().__init__()
        p = c["patch_size"]
        self.patch_embed = PatchEmbed(3, c["embed_dim"], p)
        self.blocks = nn.ModuleList([GflBlock(hw[0] // p, hw[1] // p, c) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(c["embed_dim"])

    def forward(self, x: Tensor) -> Tensor:
        t = self.patch_embed(x).permute(0, 2, 3, 1)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t).permute(0, 3, 1, 2).contiguous()


def small_branch(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, cout, 1))


class PersonHead(nn.Module):
    def __init__(self, c: dict, cin: int):
        super().__init__()
        self.center = small_branch(cin, c["head_channels"], 1)
        self.size = small_branch(cin, c["head_channels"], 2)
        self.offset = small_branch(cin, c["head_channels"], 2)


def branch3(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(),
        nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
        nn.Conv2d(hidden, cout, 1),
    )


class DensePoseHead(nn.Module):
    def __init__(self, c: dict, cin: int):
        super().__init__()
        s, b, p = c["shared_channels"], c["branch_channels"], c["num_parts"]
        self.r, self.parts, self.upsample = c["roi_size"] * c["output_upsample"], p, c["output_upsample"]
        self.shared_conv = nn.Sequential(nn.Conv2d(cin, s, 3, padding=1), nn.ReLU(), nn.Conv2d(s, s, 3, padding=1), nn.ReLU())
        self.mask_branch = branch3(s, b, p + 1)
        self.uv_branch = branch3(s, b, 2 * p)
        self.keypoint_branch = branch3(s, b, c["num_keypoints"])

    def up(self, t: Tensor) -> Tensor:
        if self.upsample == 1:
            return t
        return F.interpolate(t, size=(self.r, self.r), mode="bilinear", align_corners=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        x = self.shared_conv(x)
        k = x.shape[0]
        uv = torch.sigmoid(self.up(self.uv_branch(x))).view(k, self.parts, 2, self.r, self.r)
        return self.up(self.mask_branch(x)), uv, self.up(self.keypoint_branch(x))


class Head(nn.Module):
    def __init__(self, preset: dict, cin: int):
        super().__init__()
        self.person = PersonHead(preset["person"], cin)
        self.densepose = DensePoseHead(preset["head"], cin)


class Temporal(nn.Module):
    """Seed 000 section 6.1, batch-first LSTM, sequence-first attention."""

    def __init__(self, c: dict, f: int):
        super().__init__()
        hd = c["hidden_dim"]
        self.temporal_encoder = nn.LSTM(f, hd, num_layers=c["num_layers"], batch_first=True, bidirectional=True)
        self.temporal_attention = nn.MultiheadAttention(2 * hd, c["num_heads"], dropout=c["dropout"])
        self.output_projection = nn.Linear(2 * hd, f)

    def forward(self, seq: Tensor) -> Tensor:
        out, _ = self.temporal_encoder(seq)
        out = out.transpose(0, 1)
        att = self.temporal_attention(out, out, out, need_weights=False)[0].transpose(0, 1)
        return self.output_projection(att) + seq


def roi_align(features: Tensor, rois: Tensor, scale: float, out: int, sr: int) -> Tensor:
    k = rois.shape[0]
    h, w = features.shape[2], features.shape[3]
    feats = features.index_select(0, rois[:, 0].long())
    n = out * sr
    t = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    x1, y1, x2, y2 = rois[:, 1] * scale, rois[:, 2] * scale, rois[:, 3] * scale, rois[:, 4] * scale
    xn = (x1.unsqueeze(1) + (x2 - x1).unsqueeze(1) * t.unsqueeze(0)) * (2.0 / w) - 1.0
    yn = (y1.unsqueeze(1) + (y2 - y1).unsqueeze(1) * t.unsqueeze(0)) * (2.0 / h) - 1.0
    grid = torch.stack([xn.unsqueeze(1).expand(k, n, n), yn.unsqueeze(2).expand(k, n, n)], -1)
    sampled = F.grid_sample(feats, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return F.avg_pool2d(sampled, sr, sr)


class WifiDensePose(nn.Module):
    def __init__(self, preset: dict, a: int, s: int, t: int):
        super().__init__()
        f = preset["encoder"]["feature_dim"]
        up = preset["upsampler"]
        self.encoder = Encoder(preset["encoder"], a, s, t)
        self.upsampler = Upsampler(up, f)
        bb = preset["backbone"]
        if bb["kind"] == "gfl":
            self.backbone = GflBackbone(bb["gfl"], (up["out_height"], up["out_width"]))
            cin, self.stride = bb["gfl"]["embed_dim"], bb["gfl"]["patch_size"]
        else:
            self.backbone = ResNetFpn(bb["resnet_fpn"])
            cin, self.stride = bb["resnet_fpn"]["fpn_channels"], 4
        self.head = Head(preset, cin)
        self.temporal = Temporal(preset["temporal"], f)
        self.roi_size, self.sampling_ratio = preset["head"]["roi_size"], preset["head"]["sampling_ratio"]

    def forward(self, window: Tensor, rois: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        features = self.encoder(window)
        spatial = self.upsampler(features)
        fmap = self.backbone(spatial)
        center = self.head.person.center(fmap)
        size = self.head.person.size(fmap)
        offset = self.head.person.offset(fmap)
        pooled = roi_align(fmap, rois, 1.0 / self.stride, self.roi_size, self.sampling_ratio)
        mask, uv, kp = self.head.densepose(pooled)
        temporal = self.temporal(features.unsqueeze(0))
        return features, spatial, center, size, offset, mask, uv, kp, temporal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="preset as JSON")
    parser.add_argument("--antennas", type=int, required=True)
    parser.add_argument("--subcarriers", type=int, required=True)
    parser.add_argument("--window", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.config) as f:
        preset = json.load(f)
    model = WifiDensePose(preset, args.antennas, args.subcarriers, args.window).eval()
    torch.jit.save(torch.jit.script(model), args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}: {preset['name']} reference with {n} parameters -> {args.out}")


if __name__ == "__main__":
    main()
