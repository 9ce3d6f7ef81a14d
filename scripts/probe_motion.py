#!/usr/bin/env python3
"""Where is one person, from the raw CSI of a dataset, with no trained model: which phase
reference and which second-order features keep the position, how the answer grows with the
training data, and how much a random frame split flatters it.

    scripts/probe_motion.py --train DIR... --test DIR... [--every-train 2] [--every-test 4]
                            [--curve 10,20,40,100] [--leaky] [--cells] [--backprojection]

DIRs are datasets written by `wdp simulate` (or `wdp record`); only their one-person rows are
used, each with a window of the last `--rows` rows (20 rows of 5 packets: 1 s). Per window:

- the packets are brought to one phase: `align` removes one offset and one slope per packet,
  common to every link, against the newest packet (what the `align` preprocessing step does
  against a running reference); `conjugate` takes each receive antenna relative to antenna 0
  per transmit antenna (the `conjugate` step, lite-floor's input);
- the changes are the window minus its mean over time; `signature` is their dominant singular
  vector over links x subcarriers (what moves most), `full` their whole covariance;
- features: per 4 groups of subcarriers the links' covariance normalised by its trace (the
  angles of arrival and departure of what moves), and for `signature` also the delay of the
  change against the static channel (lag correlations across subcarriers), each link's change
  power against its static power and the share of the top singular values.

Readouts fitted per room: k nearest training windows (standardised features), ridge, a small
MLP; beside them, the same fitted on positions shuffled within each room and the room's mean
training position (answers that ignore the radio). Errors are floor distances in metres.
"""
import argparse
import json
import os
import sys

import numpy as np
import pyarrow.ipc as ipc

GROUPS = 4


def read(seq_dir):
    """Raw CSI per packet `[P, links, subcarriers]` (gain undone), people and positions per row."""
    meta = json.load(open(os.path.join(seq_dir, "dataset.json")))
    csi, agc, n, pos = [], [], [], []
    for shard in meta["shards"]:
        t = ipc.open_file(os.path.join(seq_dir, shard)).read_all()
        t = t.select(["csi", "n_people", "position_m", "csi_agc_db"])
        c = t.column("csi").combine_chunks().flatten().to_numpy()
        csi.append(c.reshape(t.num_rows, *meta["csi_shape"]))
        agc.append(t.column("csi_agc_db").combine_chunks().flatten().to_numpy().reshape(t.num_rows, -1))
        n.extend(t.column("n_people").to_pylist())
        for p in t.column("position_m").to_pylist():
            pos.append(np.array(p[:2]) if len(p) >= 3 else np.full(2, np.nan))
    csi = np.concatenate(csi)
    x = csi[..., 0] + 1j * csi[..., 1]  # [rows, packets, tx, rx, sub]
    rows, pk = x.shape[:2]
    x = x.reshape(rows * pk, -1, x.shape[-1]).astype(np.complex128)
    x *= (10 ** (-np.concatenate(agc).reshape(-1) / 20.0))[:, None, None]
    return dict(x=x, pk=pk, n=np.array(n), pos=np.array(pos), room=meta["room"],
                sub=np.array(meta["subcarriers"], np.float64))


def align(x, sub):
    """One phase offset and slope per packet for all links, against the newest packet."""
    z = (x * np.conj(x[-1])[None]).sum(1)
    w = np.abs(z) + 1e-30
    ph = np.unwrap(np.angle(z), axis=1)
    a = np.stack([np.ones_like(sub), sub], 1)
    out = np.empty_like(x)
    for p in range(len(x)):
        coef = np.linalg.lstsq(a * w[p, :, None], ph[p] * w[p], rcond=None)[0]
        out[p] = x[p] * np.exp(-1j * (a @ coef))[None]
    return out


def conjugate(x, n_rx):
    """Each receive antenna relative to antenna 0 of the same transmit antenna."""
    p, links, k = x.shape
    y = x.reshape(p, links // n_rx, n_rx, k)
    r = y[:, :, :1]
    return (y * np.conj(r) / (np.abs(r) + 1e-30)).reshape(p, links, k)


def link_covariance(m_of_group, links, k):
    iu = np.triu_indices(links, 1)
    f = []
    for g in np.array_split(np.arange(k), GROUPS):
        m = m_of_group(g)
        m = m / (np.trace(m).real + 1e-30)
        f += [np.diag(m).real, m[iu].real, m[iu].imag]
    return np.concatenate(f)


def features(x, phase, second_order, sub, n_rx):
    x = align(x, sub) if phase == "align" else conjugate(x, n_rx)
    p, links, k = x.shape
    static = x.mean(0)
    d = x - static[None]
    if second_order == "full":
        return link_covariance(lambda g: np.einsum("plk,pmk->lm", d[:, :, g], d[:, :, g].conj()), links, k)
    _, sv, vh = np.linalg.svd(d.reshape(p, links * k), full_matrices=False)
    v = vh[0].conj().reshape(links, k)
    f = [link_covariance(lambda g: v[:, g] @ v[:, g].conj().T, links, k)]
    w = v * np.conj(static) / (np.abs(static) + 1e-30)
    for lag in range(1, 9):
        r = (w[:, lag:] * np.conj(w[:, :-lag])).sum()
        f.append(np.array([r.real, r.imag]) / (np.abs(r) + 1e-30))
    f.append(np.log10((np.abs(d) ** 2).mean((0, 2)) / (np.abs(static) ** 2).mean(1) + 1e-30))
    f.append(np.log10(sv[:3] ** 2 / (sv ** 2).sum() + 1e-30))
    return np.concatenate(f)


def windows(dirs, every, rows, phase, second_order, rooms):
    """Features, positions, room index and sequence index of every `every`-th one-person row."""
    out = ([], [], [], [])
    for i, s in enumerate(dirs):
        d = read(s)
        n_rx = 3 if d["x"].shape[1] % 3 == 0 else 1
        if d["room"] not in rooms:
            rooms.append(d["room"])
        for r in range(rows - 1, len(d["n"]), every):
            if d["n"][r] != 1 or np.isnan(d["pos"][r, 0]):
                continue
            w = d["x"][(r - rows + 1) * d["pk"]:(r + 1) * d["pk"]]
            for lst, v in zip(out, (features(w, phase, second_order, d["sub"], n_rx), d["pos"][r],
                                    rooms.index(d["room"]), i)):
                lst.append(v)
    return tuple(np.array(v) for v in out)


def per_room(fit, a, b):
    """Fits `fit(train features, train positions, test features)` room by room."""
    (fa, ya, ra), (fb, rb) = a, b
    mu, sd = fa.mean(0), fa.std(0) + 1e-9
    fa, fb = (fa - mu) / sd, (fb - mu) / sd
    p = np.full((len(fb), 2), np.nan)
    for r in np.unique(rb):
        if (ra == r).any():
            p[rb == r] = fit(fa[ra == r], ya[ra == r], fb[rb == r])
    return p


def knn(k):
    def fit(a, y, b):
        d = (b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None]
        return y[np.argsort(d, 1)[:, :k]].mean(1)
    return fit


def ridge(a, y, b, lam=10.0):
    m = y.mean(0)
    w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (y - m))
    return b @ w + m


def mlp(a, y, b, seed=0):
    import torch
    torch.manual_seed(seed)
    xa, xb = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
    ya = torch.tensor(y, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(xa.shape[1], 256), torch.nn.GELU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(256, 2))
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
    for _ in range(60):
        for i in torch.randperm(len(xa)).split(128):
            loss = (net(xa[i]) - ya[i]).norm(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        return net(xb).numpy()


def cells(samples, batch=128, cell=0.25, grid=(32, 24), sigma=0.25, seed=0):
    """The model's floor readout on these features: layer norm, 256 hidden, one logit per
    0.25 m cell, cross-entropy against a Gaussian at the position, the best cell refined to the
    probability-weighted centre of its 3x3 cells; fitted on `samples` training windows drawn in
    batches of `batch` (one fit over all rooms, as the model's head is)."""
    import torch

    def fit(a, y, b):
        torch.manual_seed(seed)
        nx, ny = grid
        gx, gy = np.meshgrid((np.arange(nx) + 0.5) * cell, (np.arange(ny) + 0.5) * cell)
        q = np.exp(-((gx[None] - y[:, :1, None]) ** 2 + (gy[None] - y[:, 1:, None]) ** 2) / (2 * sigma ** 2))
        q = torch.tensor((q / q.sum((1, 2), keepdims=True)).reshape(len(y), -1), dtype=torch.float32)
        xa, xb = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
        net = torch.nn.Sequential(torch.nn.LayerNorm(xa.shape[1]), torch.nn.Linear(xa.shape[1], 256),
                                  torch.nn.ReLU(), torch.nn.Linear(256, nx * ny))
        opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
        seen = 0
        while seen < samples:
            for i in torch.randperm(len(xa)).split(batch):
                loss = -(q[i] * net(xa[i]).log_softmax(1)).sum(1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                seen += len(i)
                if seen >= samples:
                    break
        with torch.no_grad():
            p = net(xb).softmax(1).reshape(-1, ny, nx).numpy()
        out = np.empty((len(p), 2))
        for k, m in enumerate(p):
            iy, ix = np.unravel_index(m.argmax(), m.shape)
            ys, xs = slice(max(iy - 1, 0), iy + 2), slice(max(ix - 1, 0), ix + 2)
            w = m[ys, xs]
            out[k] = (w * gx[ys, xs]).sum() / w.sum(), (w * gy[ys, xs]).sum() / w.sum()
        return out
    return fit


C_MPS = 299792458.0


def antenna_positions(array, wavelength):
    """Elements of a scene's uniform linear array (the simulator's `antenna_positions`)."""
    spacing = array.get("spacing_m") or wavelength / 2
    axis = np.deg2rad(array.get("axis_deg", 0.0))
    n = array.get("antennas", 3)
    u = np.array([np.cos(axis), np.sin(axis), 0.0])
    return np.array([np.array(array["position_m"]) + u * ((k - (n - 1) / 2) * spacing) for k in range(n)])


def backprojection(dirs, every, rows, step=0.1, height=1.0, frame=(8.0, 6.0), pool=5):
    """Where the window's dominant change comes from, from the scene's antenna geometry alone
    (no training): per floor point p (at `height`, on a `step` grid of a fixed `frame` of the
    room's coordinates, points outside the room left out), the path length L_l(p) = |p - tx_i|
    + |p - rx_j| of each link, and the power summed over subcarriers k of |sum_l v_lk exp(+j 2
    pi f_k L_l(p) / c)|^2 of the aligned packets' dominant signature v. Per one-person window:
    the room, the best point, the map normalised to its peak and pooled `pool` x `pool` (for a
    readout fitted on it), and the true position."""
    rooms, best, maps, pos = [], [], [], []
    for s in dirs:
        meta = json.load(open(os.path.join(s, "dataset.json")))
        scene = meta.get("scene")
        if not isinstance(scene, dict) or "tx" not in scene:
            raise SystemExit(f"{s}: dataset.json has no scene geometry (tx, rx arrays)")
        fc = scene["radio"]["carrier_hz"]
        f = fc + np.array(meta["subcarriers"], np.float64) * 312.5e3
        tx, rx = (antenna_positions(scene[k], C_MPS / fc) for k in ("tx", "rx"))
        nx, ny = int(round(frame[0] / step)), int(round(frame[1] / step))
        gx, gy = np.meshgrid((np.arange(nx) + 0.5) * step, (np.arange(ny) + 0.5) * step)
        g = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, height)], 1)
        w, h = scene["room"]["size_m"][:2]
        inside = (g[:, 0] < w) & (g[:, 1] < h)
        dist = lambda a: np.linalg.norm(g[:, None, :] - a[None], axis=2)
        length = (dist(tx)[:, :, None] + dist(rx)[:, None, :]).reshape(len(g), -1)  # links tx-major
        steer = np.exp(2j * np.pi * f[None, None, :] * length[:, :, None] / C_MPS)
        d = read(s)
        sig = []
        for r in range(rows - 1, len(d["n"]), every):
            if d["n"][r] != 1 or np.isnan(d["pos"][r, 0]):
                continue
            x = align(d["x"][(r - rows + 1) * d["pk"]:(r + 1) * d["pk"]], d["sub"])
            dz = x - x.mean(0)[None]
            _, _, vh = np.linalg.svd(dz.reshape(len(dz), -1), full_matrices=False)
            sig.append(vh[0].reshape(dz.shape[1], dz.shape[2]))
            pos.append(d["pos"][r])
            rooms.append(meta["room"])
        if not sig:
            continue
        m = (np.abs(np.einsum("glk,wlk->wgk", steer, np.array(sig))) ** 2).sum(2) * inside[None]
        best.append(g[m.argmax(1), :2])
        m = (m / m.max(1, keepdims=True)).reshape(len(m), ny // pool, pool, nx // pool, pool)
        maps.append(m.mean((2, 4)).reshape(len(m), -1))
    return np.array(rooms), np.concatenate(best), np.concatenate(maps), np.array(pos)


def shuffled(y, r, rng):
    y = y.copy()
    for room in np.unique(r):
        i = np.where(r == room)[0]
        y[i] = y[rng.permutation(i)]
    return y


def score(p, y):
    e = np.linalg.norm(p - y, axis=1)
    return f"{np.median(e):.2f} / {np.quantile(e, 0.9):.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--test", nargs="+", required=True)
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--every-train", type=int, default=2)
    ap.add_argument("--every-test", type=int, default=4)
    ap.add_argument("--variants", action="store_true", help="also conjugate/full variants (4x the time)")
    ap.add_argument("--curve", default="", help="one-person training sequences per room for a learning curve, e.g. 2,5,10")
    ap.add_argument("--leaky", action="store_true", help="also a random 80/20 split of the training frames")
    ap.add_argument("--groups", action="store_true", help="also each feature group of the signature alone")
    ap.add_argument("--backprojection", action="store_true",
                    help="also the test windows located by back-projection on the scenes' antenna geometry (no training)")
    ap.add_argument("--cells", action="store_true",
                    help="also the model's floor readout (softmax over cells) on the signature, fitted over 60 "
                         "passes and with a whole-model run's budget (12 000 windows in batches of 8)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rooms = []
    print("| input | readout | median / p90 m (fitted on shuffled positions) |\n| --- | --- | --- |")
    variants = [("align", "signature")]
    if args.variants:
        variants += [("conjugate", "signature"), ("align", "full"), ("conjugate", "full")]
    for phase, second in variants:
        fa, ya, ra, sa = windows(args.train, args.every_train, args.rows, phase, second, rooms)
        fb, yb, rb, _ = windows(args.test, args.every_test, args.rows, phase, second, rooms)
        if phase == "align" and second == "signature":
            prior = np.stack([ya[ra == r].mean(0) if (ra == r).any() else np.full(2, np.nan)
                              for r in range(len(rooms))])
            print(f"| none | the room's mean training position | {score(prior[rb], yb)} |")
            keep = (fa, ya, ra, sa, fb, yb, rb)
        readouts = [("10 nearest", knn(10))]
        if second == "signature" and phase == "align":
            readouts += [("ridge", ridge), ("MLP", mlp)]
        for name, fit in readouts:
            p = per_room(fit, (fa, ya, ra), (fb, rb))
            q = per_room(fit, (fa, shuffled(ya, ra, rng), ra), (fb, rb))
            print(f"| {phase}, {second} ({len(fa)} / {len(fb)} windows) | {name} | {score(p, yb)} ({score(q, yb)}) |",
                  flush=True)
    fa, ya, ra, sa, fb, yb, rb = keep
    if args.backprojection:
        rng_bp = np.random.default_rng(0)
        room_b, best_b, map_b, pos_b = backprojection(args.test, args.every_test, args.rows)
        print("\n| room | back-projection, no training: median / p90 m | scored against another window's person |"
              " windows |\n| --- | --- | --- | --- |")
        for room in sorted(set(room_b)) + ["all"]:
            i = np.where((room_b == room) | (room == "all"))[0]
            other = best_b[i][rng_bp.permutation(len(i))] if room != "all" else best_b[shuffled(
                np.arange(len(best_b)), np.unique(room_b, return_inverse=True)[1], rng_bp)]
            print(f"| {room} | {score(best_b[i], pos_b[i])} | {score(other, pos_b[i])} | {len(i)} |", flush=True)
        room_a, best_a, map_a, pos_a = backprojection(args.train, args.every_train, args.rows)
        names = sorted(set(room_a) | set(room_b))
        ra_bp, rb_bp = (np.array([names.index(r) for r in x]) for x in (room_a, room_b))
        print("\n| back-projection map (0.5 m cells) and its best point | median / p90 m (fitted on shuffled positions) |"
              "\n| --- | --- |")
        fa_bp, fb_bp = np.c_[map_a, best_a], np.c_[map_b, best_b]
        p = per_room(mlp, (fa_bp, pos_a, ra_bp), (fb_bp, rb_bp))
        q = per_room(mlp, (fa_bp, shuffled(pos_a, ra_bp, rng_bp), ra_bp), (fb_bp, rb_bp))
        print(f"| MLP per room | {score(p, pos_b)} ({score(q, pos_b)}) |", flush=True)
    if args.cells:
        print("\n| aligned, signature: the model's floor readout | median / p90 m (fitted on shuffled positions) |"
              "\n| --- | --- |")
        one = (np.zeros(len(fa), int), np.zeros(len(fb), int))  # one fit for every room
        for name, fit in [("60 passes, batches of 128", cells(60 * len(fa))),
                          ("12 000 windows, batches of 8", cells(12000, batch=8))]:
            p = per_room(fit, (fa, ya, one[0]), (fb, one[1]))
            q = per_room(fit, (fa, shuffled(ya, ra, rng), one[0]), (fb, one[1]))
            print(f"| {name} | {score(p, yb)} ({score(q, yb)}) |", flush=True)
    if args.curve:
        print("\n| one-person training sequences per room | training windows | 10 nearest: median / p90 m |\n| --- | --- | --- |")
        for n in [int(v) for v in args.curve.split(",")]:
            take = np.zeros(len(fa), bool)
            for r in np.unique(ra):
                seqs = np.unique(sa[ra == r])[:n]
                take |= (ra == r) & np.isin(sa, seqs)
            p = per_room(knn(10), (fa[take], ya[take], ra[take]), (fb, rb))
            print(f"| {n} | {take.sum()} | {score(p, yb)} |", flush=True)
    if args.groups:
        links = 9 if fa.shape[1] == 352 else None
        if links is None:
            print("\n--groups needs 3x3 links")
        else:
            per = links + links * (links - 1)
            cov = np.arange(GROUPS * per)
            parts = {
                "the links' covariance": cov,
                "its off-diagonal (phases between links)": np.concatenate([g * per + np.arange(links, per) for g in range(GROUPS)]),
                "its diagonal (which links see the change)": np.concatenate([g * per + np.arange(links) for g in range(GROUPS)]),
                "the change's delay against the static channel": np.arange(GROUPS * per, GROUPS * per + 16),
                "each link's change-to-static power": np.arange(GROUPS * per + 16, GROUPS * per + 16 + links),
            }
            print("\n| aligned, signature: features | 10 nearest: median / p90 m |\n| --- | --- |")
            for name, cols in parts.items():
                p = per_room(knn(10), (fa[:, cols], ya, ra), (fb[:, cols], rb))
                print(f"| {name} | {score(p, yb)} |", flush=True)
    if args.leaky:
        test = rng.random(len(fa)) < 0.2
        p = per_room(knn(10), (fa[~test], ya[~test], ra[~test]), (fa[test], ra[test]))
        print(f"\nrandom 80/20 split of the training windows (leaky: neighbours in time on both sides), "
              f"10 nearest: {score(p, ya[test])} m; held-out sequences: "
              f"{score(per_room(knn(10), (fa, ya, ra), (fb, rb)), yb)} m")


if __name__ == "__main__":
    sys.exit(main())
