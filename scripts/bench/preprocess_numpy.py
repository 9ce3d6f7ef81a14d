#!/usr/bin/env python3
"""The csi-preprocess pipeline in numpy/scipy, for the throughput comparison in
operators/wdp-csi/benches/preprocess.rs (which writes the input and runs this script).

Same steps and semantics as the Rust default pipeline (operators/wdp-csi/src/dsp/):
AGC compensation, resampling to a uniform grid (linear interpolation of re/im, duplicates
dropped), linear phase sanitization over the real subcarrier indices (slope-aided unwrap, then
a least-squares line), unwrap along time (np.unwrap), a causal Hampel filter (trailing window,
MAD scale 1.4826), a Butterworth low-pass (scipy.signal.butter + sosfilt, started in the steady
state of the first sample), 100-sample windows [2, tx*rx, subcarrier, time] z-scored per channel.

Two ways to run it:
  batch   the whole recording at once, fully vectorized (numpy's best case; not streaming)
  stream  packet by packet with carried state, as a Python dora node would have to

Input (--data DIR): csi.npy f32 [N, tx, rx, sub, 2], t_ns.npy i64 [N], agc_db.npy f32 [N],
subcarriers.npy i32 [sub]; optional rust_windows.npy to compare with.
Output: one JSON line with packets/s and windows/s per mode and the difference to Rust.
Exit code 3 when numpy or scipy is missing.
"""

import argparse
import json
import sys
import time

try:
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.signal import butter, sosfilt, sosfilt_zi
except ImportError as e:  # the bench reports this and skips the comparison
    print(json.dumps({"error": f"numpy/scipy not available: {e}"}))
    sys.exit(3)

MAD_SCALE = 1.4826
STD_FLOOR = 1e-6


def wrap(x):
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


def spacing_max(k):
    s = np.sort(np.abs(np.diff(k)))
    return max(int(s[len(s) // 2]), 1) if len(s) else 1


def sanitize(phase, k, smax):
    """phase [..., sub] wrapped -> sanitized. Slope-aided unwrap over real indices, then LS."""
    k = k.astype(np.float32)
    dk = np.diff(k)
    raw_d = np.diff(phase, axis=-1)
    d = wrap(raw_d)
    trusted = np.abs(dk) <= smax
    slope = (d * trusted).sum(-1, keepdims=True) / (dk * trusted).sum()
    pred = slope * dk
    steps = pred + wrap(raw_d - pred)
    unwrapped = np.concatenate([phase[..., :1], phase[..., :1] + np.cumsum(steps, axis=-1)], axis=-1)
    a = np.stack([k, np.ones_like(k)], axis=1).astype(np.float64)
    flat = unwrapped.reshape(-1, unwrapped.shape[-1]).T.astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, flat, rcond=None)
    fit = (a @ coef).T.reshape(unwrapped.shape)
    return (unwrapped - fit).astype(np.float32)


def zscore(w):
    """w [..., 2, links, sub, time]: z-score per channel."""
    axes = (-3, -2, -1)
    m = w.mean(axis=axes, keepdims=True, dtype=np.float64)
    sd = np.maximum(w.std(axis=axes, keepdims=True, dtype=np.float64), STD_FLOOR)
    return ((w - m) / sd).astype(np.float32)


def batch(csi, t_ns, agc, k, a):
    n_pk, n_tx, n_rx, n_sub, _ = csi.shape
    links = n_tx * n_rx
    # AGC compensation.
    x = csi.reshape(n_pk, -1) * (10.0 ** (-agc / 20.0)).astype(np.float32)[:, None]
    # Resample: drop duplicates, uniform grid from the first packet, interpolate re/im.
    keep = np.concatenate([[True], np.diff(t_ns) > 0])
    x, t = x[keep], t_ns[keep]
    period = 1e9 / a.rate_hz
    n_grid = int((t[-1] - t[0]) / period) + 2
    tg = t[0] + np.round(np.arange(n_grid) * period).astype(np.int64)
    tg = tg[tg <= t[-1]]
    hi = np.maximum(np.searchsorted(t, tg, side="left"), 1)
    lo = hi - 1
    w = ((tg - t[lo]) / (t[hi] - t[lo])).astype(np.float32)[:, None]
    y = x[lo] + w * (x[hi] - x[lo])
    y[0] = x[0]
    c = y[:, 0::2] + 1j * y[:, 1::2]
    # Polar, sanitize, unwrap in time.
    amp = np.abs(c).astype(np.float32)
    ph = np.angle(c).astype(np.float32).reshape(-1, links, n_sub)
    ph = sanitize(ph, k, spacing_max(k)).reshape(len(tg), -1)
    ph = np.unwrap(ph, axis=0).astype(np.float32)
    s = np.concatenate([amp, ph], axis=1)  # [T, 2*links*sub]
    # Causal Hampel.
    hw = max(a.hampel_window, 3)
    out = s.copy()
    for i in range(2, min(hw - 1, len(s))):
        win = s[: i + 1]
        med = np.median(win, axis=0)
        mad = np.median(np.abs(win - med), axis=0)
        bad = np.abs(s[i] - med) > a.n_sigma * MAD_SCALE * mad
        out[i] = np.where(bad, med, s[i])
    if len(s) >= hw:
        win = sliding_window_view(s, hw, axis=0)  # [T-hw+1, n, hw]
        med = np.median(win, axis=-1)
        mad = np.median(np.abs(win - med[..., None]), axis=-1)
        cur = s[hw - 1 :]
        bad = np.abs(cur - med) > a.n_sigma * MAD_SCALE * mad
        out[hw - 1 :] = np.where(bad, med, cur)
    # Butterworth low-pass, steady-state start.
    sos = butter(a.order, a.cutoff_hz, fs=a.rate_hz, output="sos")
    zi = sosfilt_zi(sos)[:, :, None] * out[0][None, None, :]
    f, _ = sosfilt(sos, out, axis=0, zi=zi)
    f = f.astype(np.float32)
    # Windows [n_w, 2, links, sub, time], z-scored per channel.
    if len(f) < a.window:
        return np.zeros((0, 2, links, n_sub, a.window), np.float32)
    wins = sliding_window_view(f, a.window, axis=0)[:: a.hop]  # [n_w, n, window]
    wins = wins.reshape(len(wins), 2, links, n_sub, a.window)
    return zscore(wins)


class Stream:
    """Packet-by-packet version with carried state (what a Python node would run)."""

    def __init__(self, n_values, k, a):
        self.a, self.k, self.smax = a, k, spacing_max(k)
        self.n = n_values  # complex values per packet
        self.period = 1e9 / a.rate_hz
        self.prev_t = None
        self.prev = None
        self.grid_start = None
        self.grid_n = 0
        self.unwrap_prev = None
        self.unwrap_corr = np.zeros(n_values, np.float64)
        self.hw = max(a.hampel_window, 3)
        self.hist = np.zeros((self.hw, 2 * n_values), np.float32)
        self.hist_n = 0
        self.sos = butter(a.order, a.cutoff_hz, fs=a.rate_hz, output="sos")
        self.zi = None
        self.ring = np.zeros((a.window, 2 * n_values), np.float32)
        self.ring_n = 0
        self.since = 0
        self.emitted = False
        self.windows = []

    def push(self, t, x):
        if self.prev_t is not None and t <= self.prev_t:
            return
        if self.prev_t is None:
            self.grid_start, self.grid_n = t, 1
            self.sample(x)
        else:
            while True:
                tg = self.grid_start + round(self.grid_n * self.period)
                if tg > t:
                    break
                w = np.float32((tg - self.prev_t) / (t - self.prev_t))
                self.sample(self.prev + w * (x - self.prev))
                self.grid_n += 1
        self.prev_t, self.prev = t, x

    def sample(self, y):
        c = y[0::2] + 1j * y[1::2]
        amp = np.abs(c).astype(np.float32)
        ph = sanitize(np.angle(c).astype(np.float32).reshape(-1, len(self.k)), self.k, self.smax).ravel()
        if self.unwrap_prev is None:
            self.unwrap_prev = ph.copy()
        else:
            d = ph - self.unwrap_prev
            dmod = np.mod(d + np.pi, 2 * np.pi) - np.pi
            dmod[(dmod == -np.pi) & (d > 0)] = np.pi
            corr = dmod - d
            corr[np.abs(d) < np.pi] = 0
            self.unwrap_corr += corr
            self.unwrap_prev = ph.copy()
            ph = (ph + self.unwrap_corr).astype(np.float32)
        s = np.concatenate([amp, ph])
        # Hampel, trailing window.
        self.hist[self.hist_n % self.hw] = s
        self.hist_n += 1
        filled = min(self.hist_n, self.hw)
        if filled >= 3:
            win = self.hist[:filled]
            med = np.median(win, axis=0)
            mad = np.median(np.abs(win - med), axis=0)
            s = np.where(np.abs(s - med) > self.a.n_sigma * MAD_SCALE * mad, med, s)
        # Low-pass.
        if self.zi is None:
            self.zi = sosfilt_zi(self.sos)[:, :, None] * s[None, None, :]
        f, self.zi = sosfilt(self.sos, s[None, :], axis=0, zi=self.zi)
        # Window ring.
        a = self.a
        self.ring[self.ring_n % a.window] = f[0]
        self.ring_n += 1
        self.since += 1
        if self.ring_n >= a.window and (self.since >= a.hop or not self.emitted):
            self.since, self.emitted = 0, True
            start = self.ring_n % a.window
            w = np.concatenate([self.ring[start:], self.ring[:start]]).T  # [n, time]
            self.windows.append(zscore(w.reshape(2, -1, len(self.k), a.window)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--rate-hz", type=float, default=100.0)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--hop", type=int, default=10)
    p.add_argument("--hampel-window", type=int, default=7)
    p.add_argument("--n-sigma", type=float, default=3.0)
    p.add_argument("--cutoff-hz", type=float, default=20.0)
    p.add_argument("--order", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--mode", choices=["batch", "stream", "both"], default="both")
    a = p.parse_args()

    d = a.data.rstrip("/")
    csi = np.load(f"{d}/csi.npy")
    t_ns = np.load(f"{d}/t_ns.npy")
    agc = np.load(f"{d}/agc_db.npy")
    k = np.load(f"{d}/subcarriers.npy")
    n_pk = len(t_ns)
    result = {"packets": n_pk, "numpy": np.__version__}

    if a.mode in ("batch", "both"):
        best = float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            wins = batch(csi, t_ns, agc, k, a)
            best = min(best, time.perf_counter() - t0)
        result["windows"] = len(wins)
        result["batch"] = {"seconds": best, "packets_per_s": n_pk / best, "windows_per_s": len(wins) / best}
        try:
            rust = np.load(f"{d}/rust_windows.npy")
            if rust.shape == wins.shape:
                diff = np.abs(rust - wins)
                result["max_abs_diff"] = float(diff.max())
                result["mean_abs_diff"] = float(diff.mean())
            else:
                result["max_abs_diff"] = f"shape {list(rust.shape)} vs {list(wins.shape)}"
        except FileNotFoundError:
            pass

    if a.mode in ("stream", "both"):
        flat = csi.reshape(n_pk, -1)
        scale = (10.0 ** (-agc / 20.0)).astype(np.float32)
        s = Stream(flat.shape[1] // 2, k, a)
        t0 = time.perf_counter()
        for i in range(n_pk):
            s.push(int(t_ns[i]), flat[i] * scale[i])
        dt = time.perf_counter() - t0
        result["stream"] = {"seconds": dt, "packets_per_s": n_pk / dt, "windows_per_s": len(s.windows) / dt}
        if "windows" in result and len(s.windows) == result["windows"] and len(s.windows):
            result["stream_vs_batch_max_abs_diff"] = float(np.abs(np.stack(s.windows) - wins).max())

    print(json.dumps(result))


if __name__ == "__main__":
    main()
