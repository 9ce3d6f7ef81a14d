"""Does a small learned refiner of the radio's floor images place people better than the images
themselves? An experiment, not part of the shipped model.

Reads files written by `cargo run --release -p wdp-train --example dump_radio_maps -- OUT EVERY
<sequences>`: one from training sequences, one from held-out ones. Scores the raw images (each
frame's k best local maxima, k the true number of people, matched within 1 m) and a small CNN
trained on the training file (input: both maps, their logarithms and the cell coordinates;
output: logits over the cells added to 4 a ln(map), trained by the cross-entropy against a
Gaussian of 0.25 m at each person), after every epoch.

    python scripts/radio_map_refiner.py TRAIN.bin HELDOUT.bin [EPOCHS] [NX NY CELL_M]

Measured (8 validation sequences, 100 training sequences every 3rd frame, 4 epochs): raw images
0.263 m / 22.8% missed, refined 0.262 m / 18.6%.
"""
import sys

import numpy as np
import torch
import torch.nn as nn
from scipy.optimize import linear_sum_assignment

torch.set_num_threads(2)
NX, NY, CELL = (int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])) if len(sys.argv) > 6 else (32, 24, 0.25)

def load(path):
    b = open(path, 'rb').read()
    i = 0; rooms = []; people = []; maps = []
    while i < len(b):
        r, n = b[i], b[i+1]; i += 2
        p = np.frombuffer(b, np.float32, 2*n, i).reshape(n, 2); i += 8*n
        m = np.frombuffer(b, np.float32, 2*NX*NY, i).reshape(2, NY, NX); i += 4*2*NX*NY
        rooms.append(r); people.append(p.copy()); maps.append(m)
    return np.array(rooms), people, np.stack(maps)

def target(people, sigma=0.25):
    xs = (np.arange(NX)+0.5)*CELL; ys = (np.arange(NY)+0.5)*CELL
    q = np.zeros((len(people), NY, NX), np.float32)
    for i, p in enumerate(people):
        for x, y in p:
            g = np.exp(-((xs[None,:]-x)**2 + (ys[:,None]-y)**2)/(2*sigma**2))
            if g.sum() > 0: q[i] += g/g.sum()
        if len(p): q[i] /= len(p)
    return q

def decode(prob, k):
    # k best 3x3 local maxima, centroid
    P = prob
    pad = np.pad(P, 1, constant_values=-1)
    nb = np.stack([pad[1+dy:1+dy+NY, 1+dx:1+dx+NX] for dy in (-1,0,1) for dx in (-1,0,1)])
    ismax = (P >= nb.max(0))
    idx = np.argwhere(ismax)
    vals = P[ismax]
    order = np.argsort(-vals)[:k]
    out = []
    for o in order:
        y, x = idx[o]
        w = 0; sx = 0; sy = 0
        for j in range(max(0,y-1), min(NY,y+2)):
            for i in range(max(0,x-1), min(NX,x+2)):
                v = P[j,i]; w += v; sx += v*(i+0.5); sy += v*(j+0.5)
        out.append((sx/w*CELL, sy/w*CELL) if w > 0 else ((x+0.5)*CELL, (y+0.5)*CELL))
    return np.array(out).reshape(-1, 2)

def score(probs, people, label):
    errs = []; missed = 0; truth = 0
    for P, t in zip(probs, people):
        if len(t) == 0: continue
        p = decode(P, len(t)); truth += len(t)
        d = np.linalg.norm(p[:,None,:]-t[None,:,:], axis=2)
        r, c = linear_sum_assignment(np.minimum(d, 1.0))
        ok = d[r, c] <= 1.0
        errs += list(d[r, c][ok]); missed += len(t) - ok.sum()
    errs = np.sort(errs)
    print(f"{label}: median {errs[len(errs)//2]:.3f} p90 {errs[len(errs)*9//10]:.2f} missed {100*missed/truth:.1f}%", flush=True)

class Refiner(nn.Module):
    def __init__(self, rooms=6, room_bias=True, ch=24):
        super().__init__()
        yy, xx = torch.meshgrid(torch.linspace(-1,1,NY), torch.linspace(-1,1,NX), indexing='ij')
        self.register_buffer('coords', torch.stack([xx, yy])[None])
        self.net = nn.Sequential(
            nn.Conv2d(6, ch, 5, padding=2), nn.ReLU(),
            nn.Conv2d(ch, ch, 5, padding=4, dilation=2), nn.ReLU(),
            nn.Conv2d(ch, ch, 5, padding=2), nn.ReLU(),
            nn.Conv2d(ch, 1, 3, padding=1))
        self.a = nn.Parameter(torch.tensor(1.0))
        self.room_bias = nn.Parameter(torch.zeros(rooms, NY, NX)) if room_bias else None
    def forward(self, maps, rooms):
        lm = torch.log(maps.clamp_min(1e-3))
        x = torch.cat([maps, lm, self.coords.expand(maps.shape[0], -1, -1, -1)], 1)
        out = self.a * lm[:, 0] * 4 + self.net(x)[:, 0]
        if self.room_bias is not None:
            out = out + self.room_bias[rooms]
        return out

def probs_of(model, maps, rooms):
    with torch.no_grad():
        out = []
        for i in range(0, len(maps), 512):
            l = model(torch.from_numpy(maps[i:i+512]), torch.from_numpy(rooms[i:i+512]).long())
            out.append(l.flatten(1).softmax(-1).view(-1, NY, NX).numpy())
    return np.concatenate(out)

tr_r, tr_p, tr_m = load(sys.argv[1])
va_r, va_p, va_m = load(sys.argv[2])
print(len(tr_r), "train frames,", len(va_r), "val frames")
score(va_m[:, 0], va_p, "raw combined map")
score(va_m[:, 1], va_p, "raw moving map")
keep = np.array([len(p) > 0 for p in tr_p])
tr_q = target(tr_p)
for room_bias in (False,):  # a per-room bias map did no better on validation
    torch.manual_seed(0)
    model = Refiner(room_bias=room_bias)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    X = torch.from_numpy(tr_m[keep]); R = torch.from_numpy(tr_r[keep]).long(); Q = torch.from_numpy(tr_q[keep])
    n = len(X)
    for epoch in range(int(sys.argv[3]) if len(sys.argv) > 3 else 6):
        perm = torch.randperm(n); tot = 0
        for i in range(0, n, 128):
            j = perm[i:i+128]
            logits = model(X[j], R[j]).flatten(1)
            loss = -(Q[j].flatten(1) * logits.log_softmax(-1)).sum(-1).mean()
            opt.zero_grad(); loss.backward(); opt.step(); tot += loss.item()*len(j)
        print(f"room_bias {room_bias} epoch {epoch} loss {tot/n:.3f}", flush=True)
        score(probs_of(model, va_m, va_r), va_p, f"  refined (room bias {room_bias})")
