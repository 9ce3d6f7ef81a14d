"""The radio's floor image of a window in numpy: the peer of `cargo bench -p wdp-locate --bench
locate`, which runs it in the same run on the same windows and compares the maps.

Per window: the moving image (the window's first right singular vector once its mean is
removed, matched over the links per subcarrier at every candidate point, power summed over the
subcarriers, averaged per cell, normalised to the best cell), the still image (the window's mean
against the empty room's background brought to it by a complex gain and a phase slope over the
subcarrier index, imaged the same way) and their cell-wise maximum. Vectorised as a numpy user
would write it (SVD, einsum, bincount); the steering phases are computed once, untimed, as the
Rust side's projector is built once.

Prints one JSON line: ms_per_window (best of 3 runs), and the maps' agreement with Rust's.
"""

import argparse
import json
import os
import time

import numpy as np

C = 299_792_458.0


def steering(meta):
    nx, ny = meta["cells"]
    os_ = meta["oversample"]
    step = meta["cell_m"] / os_
    rx_m, ry_m = meta["room_m"]
    ix, iy = np.meshgrid(np.arange(nx * os_), np.arange(ny * os_))
    ix, iy = ix.ravel(), iy.ravel()
    x, y = (ix + 0.5) * step, (iy + 0.5) * step
    inside = (x < rx_m) & (y < ry_m)
    x, y, ix, iy = x[inside], y[inside], ix[inside], iy[inside]
    cell = (iy // os_) * nx + ix // os_
    p = np.stack([x, y, np.full_like(x, meta["height_m"])], 1)
    links = np.asarray(meta["links"])  # [L, 2, 3]
    length = np.linalg.norm(p[:, None, :] - links[None, :, 0], axis=2) + np.linalg.norm(
        p[:, None, :] - links[None, :, 1], axis=2
    )  # [P, L]
    f = meta["carrier_hz"] + np.asarray(meta["subcarriers"]) * meta["subcarrier_spacing_hz"]
    phase = np.mod(2 * np.pi * length[:, :, None] * f[None, None, :] / C, 2 * np.pi)
    steer = np.exp(1j * phase).astype(np.complex64)  # [P, L, K]
    per_cell = np.bincount(cell, minlength=nx * ny)
    return steer, cell, per_cell


def image(vector, steer, cell, per_cell):
    """vector [L, K] -> cell map normalised to its peak, or None."""
    acc = np.einsum("lk,plk->pk", vector, steer)
    power = (acc.real**2 + acc.imag**2).sum(1)
    values = np.bincount(cell, weights=power, minlength=per_cell.size)
    values = np.where(per_cell > 0, values / np.maximum(per_cell, 1), 0.0)
    peak = values.max()
    if not (peak > 0 and np.isfinite(peak)):
        return None
    return values / peak


def phase_slope(z, k):
    w = np.abs(z)
    ok = (w > 0) & np.isfinite(w)
    z, k, w = z[ok], k[ok], w[ok]
    if z.size == 0:
        return 0.0
    y = np.unwrap(np.angle(z))
    sw, sx, sy = w.sum(), (w * k).sum(), (w * y).sum()
    sxx, sxy = (w * k * k).sum(), (w * k * y).sum()
    den = sw * sxx - sx * sx
    return (sw * sxy - sx * sy) / den if abs(den) > 1e-12 else 0.0


def still_vector(mean, background, k):
    cross = (mean * background.conj()).sum(0)
    rotated = background * np.exp(1j * phase_slope(cross, k) * k)[None, :]
    den = (np.abs(rotated) ** 2).sum()
    gain = (mean * rotated.conj()).sum() / den if den > 0 else 0.0
    residual = mean - gain * rotated
    left, total = (np.abs(residual) ** 2).sum(), (np.abs(mean) ** 2).sum()
    return residual if left > total * 1e-9 and np.isfinite(left) else None


def locate(window, background, k, steer, cell, per_cell):
    """window [2, L, K, T] -> the cell-wise max of the moving and still images."""
    x = (window[0] + 1j * window[1]).astype(np.complex64)  # [L, K, T]
    links, sub, t = x.shape
    rows = x.reshape(links * sub, t).T  # [T, L*K]
    d = rows - rows.mean(0)
    moving = None
    if np.abs(d).max() > 0:
        _, _, vh = np.linalg.svd(d, full_matrices=False)
        moving = image(vh[0].reshape(links, sub), steer, cell, per_cell)
    residual = still_vector(x.mean(2), background, k)
    still = None if residual is None else image(residual, steer, cell, per_cell)
    if moving is None or still is None:
        return moving if still is None else still
    return np.maximum(moving, still)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.data, "meta.json")))
    shape = meta["shape"]
    n = meta["windows"]
    windows = np.fromfile(os.path.join(a.data, "windows.f32"), "<f4").reshape([n] + shape)
    b = np.fromfile(os.path.join(a.data, "background.f32"), "<f4").reshape(2, shape[1], shape[2])
    background = (b[0] + 1j * b[1]).astype(np.complex64)
    k = np.asarray(meta["subcarriers"], np.float64)
    steer, cell, per_cell = steering(meta)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        maps = [locate(w, background, k, steer, cell, per_cell) for w in windows]
        best = min(best, time.perf_counter() - start)
    rust = np.fromfile(os.path.join(a.data, "maps.f32"), "<f4").reshape(n, -1)
    ours = np.stack([m if m is not None else np.zeros(rust.shape[1]) for m in maps])
    diff = np.abs(ours - rust)
    print(
        json.dumps(
            {
                "ms_per_window": best * 1e3 / n,
                "max_abs_diff": float(diff.max()),
                "mean_abs_diff": float(diff.mean()),
                "same_best_cell": int((ours.argmax(1) == rust.argmax(1)).sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
