#!/usr/bin/env python3
"""Is a person's pose in the simulated CSI at all, where the person stands still? The upper
bound of what any model can read from the radio beyond where people are.

    scripts/probe_pose.py [--work DIR] [--duration-s 40] [--clean] [--places 1]

One person (the same body) stands at the same place of the `lab` room and squats, waves, sits
or turns; each motion is simulated twice with two sequence seeds (`wdp simulate`, new timing,
noise and impairments; the room and body keep theirs). Readouts fitted on the first seed's
frames predict the 17 keypoints (camera pixels, the camera fixed) of the second's from the
frame's newest packets: ridge and k nearest neighbours on each receive antenna relative to
antenna 0 (the `conjugate` step: CFO and random phase gone) and the amplitudes (AGC undone).
Beside them, the answers that ignore the radio: the training frames' median pose, the same
readouts fitted on shuffled (CSI, pose) pairs, and the median pose of the right motion (what
naming the activity perfectly would give). `--clean` turns every impairment and the noise off;
`--places N` puts the person at N places (the readouts then must find the pose wherever they
are); `--new-body` tests on another person (1.62 m, another body) doing the same, and
`--train-bodies N` trains on N people of 1.60-1.90 m (does more variety let a readout find the
pose of a body it never saw?). `--mlp` adds a small MLP readout. `--body-points N` samples each
body's surface with N scattering points instead of the scene default (128): the fewer, the more
a body's response is a speckle pattern of its own draw rather than of its shape. Errors: median over test frames of the mean keypoint distance, pixels (the person is
about 100-140 px tall in the 320x240 camera).
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
import pyarrow.ipc as ipc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOTIONS = {
    "squat": "{kind: squat, position_m: [X, Y], facing_deg: 200, period_s: 3.0}",
    "wave": "{kind: wave, position_m: [X, Y], facing_deg: 200, period_s: 2.0}",
    "sit": "{kind: sit, position_m: [X, Y], facing_deg: 200, period_s: 8.0}",
    "turn": "{kind: turn, position_m: [X, Y], period_s: 6.0}",
}
PLACES = [(3.0, 2.5), (2.0, 1.5), (4.2, 3.4), (2.2, 3.6)]
CLEAN = ("impairments: {snr_db: null, cfo_std_hz: 0.0, random_phase: false, sto_std_ns: 0.0, "
         "agc_step_db: 0.0, agc_step_probability: 0.0, packet_loss: 0.0, jitter_std_us: 0.0}\n")


def scene(motion, place, clean, body=(1.75, 7), body_points=None):
    with open(os.path.join(ROOT, "operators/wdp-sim/presets/lab.yaml")) as f:
        lab = f.read()
    head, _, tail = lab.partition("people:")
    tail = tail[tail.index("camera:"):]
    m = MOTIONS[motion].replace("X", str(place[0])).replace("Y", str(place[1]))
    people = f"people:\n  - {{height_m: {body[0]}, body_seed: {body[1]}, motion: {m}}}\n"
    if body_points:
        head = head.replace("radio:\n", f"radio:\n  body_points_per_person: {body_points}\n", 1)
    return head + people + tail + (CLEAN if clean else "")


def read(seq_dir, newest):
    meta = json.load(open(os.path.join(seq_dir, "dataset.json")))
    xs, kps = [], []
    for shard in meta["shards"]:
        t = ipc.open_file(os.path.join(seq_dir, shard)).read_all()
        c = t.column("csi").combine_chunks().flatten().to_numpy().reshape(t.num_rows, *meta["csi_shape"])
        agc = t.column("csi_agc_db").combine_chunks().flatten().to_numpy().reshape(t.num_rows, -1)
        k = t.column("keypoints").to_pylist()
        for r in range(t.num_rows):
            if len(k[r]) != 51:
                continue
            w = c[r, -newest:]  # [packets, tx, rx, sub, 2]
            z = (w[..., 0] + 1j * w[..., 1]) * (10 ** (-agc[r, -newest:] / 20))[:, None, None, None]
            ref = z[:, :, :1]
            rel = (z * np.conj(ref) / (np.abs(ref) + 1e-30))[:, :, 1:]  # CFO, random phase gone
            f = np.concatenate([rel.real.ravel(), rel.imag.ravel(), np.abs(z).ravel()])
            xs.append(f)
            kps.append(np.array(k[r]).reshape(17, 3)[:, :2].ravel())
    # float32: 100+ bodies of features would not fit in memory as float64
    return np.array(xs, dtype=np.float32), np.array(kps, dtype=np.float32)


def ridge(a, y, b, lam):
    m = y.mean(0)
    w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (y - m))
    return b @ w + m


def knn(a, y, b, k=5, block=256):
    a2 = (a ** 2).sum(1)[None]
    out = []
    for i in range(0, len(b), block):  # a block of test frames at a time: bounded memory
        bb = b[i:i + block]
        d = (bb ** 2).sum(1)[:, None] - 2 * bb @ a.T + a2
        out.append(y[np.argpartition(d, k, 1)[:, :k]].mean(1))
    return np.concatenate(out)


def mlp(a, y, b, epochs=60, seed=0):
    import torch
    torch.manual_seed(seed)
    xa, xb = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
    m, s = y.mean(0), y.std(0) + 1e-6
    ya = torch.tensor((y - m) / s, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(xa.shape[1], 512), torch.nn.GELU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(512, 256), torch.nn.GELU(), torch.nn.Linear(256, y.shape[1]))
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
    for _ in range(epochs):
        for i in torch.randperm(len(xa)).split(128):
            loss = (net(xa[i]) - ya[i]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        return net(xb).numpy() * s + m


def err(p, y):
    return float(np.median(np.linalg.norm((p - y).reshape(len(y), 17, 2), axis=2).mean(1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=None)
    ap.add_argument("--duration-s", type=float, default=40.0)
    ap.add_argument("--clean", action="store_true")
    ap.add_argument("--places", type=int, default=1)
    ap.add_argument("--new-body", action="store_true", help="test on another person")
    ap.add_argument("--train-bodies", type=int, default=1)
    ap.add_argument("--mlp", action="store_true")
    ap.add_argument("--mlp-epochs", type=int, default=60,
                    help="passes over the training frames (keep epochs x frames near 1.2 M: ~8 for 64 bodies)")
    ap.add_argument("--body-points", type=int, default=None,
                    help="scattering points per body (the scene's default: 128)")
    ap.add_argument("--newest", type=int, default=5, help="packets averaged into a frame's features")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="probe-pose-")
    os.makedirs(work, exist_ok=True)
    wdp = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "wdp")
    data = {}
    for motion in MOTIONS:
        for p in range(args.places):
            bodies = [("train", 11 + 2 * p, (1.75, 7))]
            bodies += [("train", 11 + 2 * p, (round(1.6 + 0.3 * i / max(1, args.train_bodies - 1), 2), 20 + i))
                       for i in range(1, args.train_bodies)]
            bodies.append(("test", 12 + 2 * p, (1.62, 8) if args.new_body else (1.75, 7)))
            for split, seed, body in bodies:
                path = os.path.join(work, f"{motion}-{p}-{body[1]}.yaml")
                with open(path, "w") as f:
                    f.write(scene(motion, PLACES[p], args.clean, body, args.body_points))
                out = os.path.join(work, f"{motion}-{p}-{split}-{body[1]}")
                if not os.path.exists(os.path.join(out, "dataset.json")):
                    subprocess.run([wdp, "simulate", "--scene", path, "--seed", str(seed), "--duration-s",
                                    str(args.duration_s), "--no-rgb", "--no-uv", "--out", out],
                                   check=True, stdout=subprocess.DEVNULL)
                x, y = read(out, args.newest)
                data.setdefault(split, []).append((f"{motion}-{p}", x, y))
    xa = np.concatenate([x for _, x, _ in data["train"]])
    ya = np.concatenate([y for _, _, y in data["train"]])
    xb = np.concatenate([x for _, x, _ in data["test"]])
    yb = np.concatenate([y for _, _, y in data["test"]])
    mu, sd = xa.mean(0), xa.std(0) + 1e-9
    a, b = (xa - mu) / sd, (xb - mu) / sd
    rng = np.random.default_rng(0)
    shuffled = ya[rng.permutation(len(ya))]
    rows = [("training median pose", err(np.median(ya, 0)[None].repeat(len(yb), 0), yb))]
    right_motion = np.concatenate([
        np.median(np.concatenate([yt for kt, _, yt in data["train"] if kt == k]), 0)[None].repeat(len(ys), 0)
        for k, _, ys in data["test"]])
    rows.append(("median training pose of the right motion and place (activity named perfectly)", err(right_motion, yb)))
    for lam in (1.0, 100.0):
        rows.append((f"ridge (lambda {lam:g})", err(ridge(a, ya, b, lam), yb)))
        rows.append((f"ridge (lambda {lam:g}), shuffled pairs", err(ridge(a, shuffled, b, lam), yb)))
    rows.append(("5 nearest neighbours", err(knn(a, ya, b), yb)))
    rows.append(("5 nearest neighbours, shuffled pairs", err(knn(a, shuffled, b), yb)))
    if args.mlp:
        rows.append(("MLP", err(mlp(a, ya, b, args.mlp_epochs), yb)))
        rows.append(("MLP, shuffled pairs", err(mlp(a, shuffled, b, args.mlp_epochs), yb)))
    print(f"{len(ya)} training / {len(yb)} test frames, {args.places} place(s), "
          f"{'clean' if args.clean else 'default impairments'}"
          f"{', tested on another body' if args.new_body else ''}; work folder {work}")
    print("| readout | median keypoint error, px |\n| --- | ---: |")
    for name, e in rows:
        print(f"| {name} | {e:.1f} |")


if __name__ == "__main__":
    main()
