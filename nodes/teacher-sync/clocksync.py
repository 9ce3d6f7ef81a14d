"""Clock alignment between a radio and a camera that stamp their data with different clocks.

Method (`estimate`): both streams reach the sync node, whose own clock (CLOCK_MONOTONIC) is the
common reference. For each stream, every message gives a capture time c (its own clock) and an
arrival time a (the sync node's clock). a - c = offset + drift * c + latency, with latency >= 0
and, now and then, close to its minimum. So the lower envelope of (c, a - c) is a line whose
intercept and slope are the stream's offset and drift (plus its minimum latency). Per stream:

  1. keep the lowest a - c in each BIN_S bin of capture time (default 0.1 s), over the last
     WINDOW_S seconds (default 120 s: drift changes slowly, and a sliding fit follows it);
  2. drop a bin whose minimum lies more than OUTLIER_S (default 20 ms) below the median of its
     neighbours' minima (a capture timestamp glitch would otherwise pull the envelope down);
  3. fit the lower convex hull of the bins and take its edge above the bins' mean capture time:
     the line that lies below every point and minimises the total gap to them (the linear
     program of Moon, Skelly and Towsley's clock-skew estimator). Before two bins exist the
     line is flat through the lowest point.

Radio time r then maps to camera time through the common clock:
host(r) = line_radio(r), camera = line_camera^-1(host).

Limits: what the arrival clock cannot see is the difference between the two streams' minimum
latencies (capture -> sync node, e.g. a camera's exposure and readout against a radio's driver
path): it stays as a constant error of typically a few ms. A stream that is never delivered
promptly (a sync node that is always behind, a link with a constant queue) biases its line by
that delay. The drift is assumed linear within WINDOW_S. A stream whose capture clock steps back
restarts its fit. Where both devices are stamped by one host clock (live camera and live radio
on one machine), `same` avoids all of this; `fixed` applies a known offset and drift.
"""
import math
from collections import OrderedDict

NS = 1_000_000_000


class StreamClock:
    """Lower-envelope fit of arrival minus capture time for one stream."""

    def __init__(self, bin_s=0.1, window_s=120.0, outlier_s=0.02):
        self.bin_s = bin_s
        self.window_s = window_s
        self.outlier_s = outlier_s
        self.reset()

    def reset(self):
        self.c0 = None  # first capture time (ns), origin of x
        self.a0 = None  # its arrival (ns)
        self.bins = OrderedDict()  # bin -> (x, y), x = c - c0 (s), y = (a - a0) - (c - c0) (s)
        self.count = 0
        self.last_x = None
        self.resets = getattr(self, "resets", -1) + 1
        self._fit = None
        self.dirty = False

    def add(self, capture_ns, arrival_ns):
        if self.c0 is None:
            self.c0, self.a0 = int(capture_ns), int(arrival_ns)
        x = (int(capture_ns) - self.c0) / NS
        if self.last_x is not None and x < self.last_x - 1.0:
            # The capture clock stepped back by more than a second: a new timeline.
            self.reset()
            return self.add(capture_ns, arrival_ns)
        y = ((int(arrival_ns) - self.a0) - (int(capture_ns) - self.c0)) / NS
        self.last_x = x if self.last_x is None else max(self.last_x, x)
        self.count += 1
        b = math.floor(x / self.bin_s)
        cur = self.bins.get(b)
        if cur is None or y < cur[1]:
            last = next(reversed(self.bins)) if self.bins else None
            self.bins[b] = (x, y)
            if cur is None and last is not None and b < last:
                # A late message: keep the bins in capture-time order.
                self.bins = OrderedDict(sorted(self.bins.items()))
            self.dirty = True
        oldest = math.floor((self.last_x - self.window_s) / self.bin_s)
        while self.bins and next(iter(self.bins)) < oldest:
            self.bins.popitem(last=False)
            self.dirty = True

    def span_s(self):
        if len(self.bins) < 2:
            return 0.0
        xs = [p[0] for p in self.bins.values()]
        return max(xs) - min(xs)

    @staticmethod
    def _hull_line(pts):
        """The lower hull's edge above the points' mean x (flat through the lowest point when
        there is no such edge)."""
        if len(pts) == 1:
            return (pts[0][1], 0.0)
        hull = []
        for p in pts:
            while len(hull) >= 2:
                (x1, y1), (x2, y2) = hull[-2], hull[-1]
                if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                    hull.pop()
                else:
                    break
            hull.append(p)
        mean_x = sum(p[0] for p in pts) / len(pts)
        for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
            if x1 <= mean_x <= x2 and x2 > x1:
                q = (y2 - y1) / (x2 - x1)
                return (y1 - q * x1, q)
        lowest = min(pts, key=lambda p: p[1])
        return (lowest[1], 0.0)

    def _points(self, line):
        """The bins without outliers: a bin whose minimum lies more than outlier_s below its
        neighbours' (median of the 5 bins each side, after removing the trend `line`)."""
        pts = list(self.bins.values())
        if len(pts) < 5 or self.outlier_s <= 0:
            return pts
        p0, q0 = line
        res = [y - (p0 + q0 * x) for x, y in pts]
        kept = []
        for i, p in enumerate(pts):
            lo, hi = max(0, i - 5), min(len(pts), i + 6)
            neighbours = sorted(res[lo:i] + res[i + 1:hi])
            if res[i] >= neighbours[len(neighbours) // 2] - self.outlier_s:
                kept.append(p)
        return kept or pts

    def fit(self, refresh=False):
        """(p, q): arrival - capture ~ p + q * x over the lower envelope, x in s from c0.
        The line is kept until `refresh` asks for the newest observations to be included."""
        if self._fit is not None and not (refresh and self.dirty):
            return self._fit
        pts = list(self.bins.values())
        if not pts:
            return None
        self._fit = self._hull_line(self._points(self._hull_line(pts)))
        self.dirty = False
        return self._fit

    def to_host(self, capture_ns):
        """The common-clock time (ns) at which this stream's capture time would arrive."""
        p, q = self.fit()
        dx = int(capture_ns) - self.c0
        return self.a0 + dx + int(round((p + q * dx / NS) * NS))

    def from_host(self, host_ns):
        """The capture time (ns) that maps to a common-clock time."""
        p, q = self.fit()
        # host - a0 - p*NS = (1 + q) * dx
        dx = (int(host_ns) - self.a0 - p * NS) / (1.0 + q)
        return self.c0 + int(round(dx))


class ClockMap:
    """Radio time <-> camera time. mode: estimate | same | fixed."""

    def __init__(self, mode="estimate", offset_ns=0, drift_ppm=0.0, min_span_s=3.0,
                 bin_s=0.1, window_s=120.0, outlier_s=0.02):
        if mode not in ("estimate", "same", "fixed"):
            raise ValueError(f"SYNC_CLOCK must be estimate, same or fixed, not {mode!r}")
        self.mode = mode
        self.offset_ns = int(offset_ns)
        self.drift = float(drift_ppm) * 1e-6
        self.min_span_s = float(min_span_s)
        self.radio = StreamClock(bin_s, window_s, outlier_s)
        self.camera = StreamClock(bin_s, window_s, outlier_s)
        self.radio_ref = None  # first radio time, origin of the fixed drift

    def observe_radio(self, capture_ns, arrival_ns):
        if self.radio_ref is None:
            self.radio_ref = int(capture_ns)
        self.radio.add(capture_ns, arrival_ns)

    def observe_camera(self, capture_ns, arrival_ns):
        self.camera.add(capture_ns, arrival_ns)

    def refresh(self):
        """Refits both streams with what they have seen (fitting costs O(bins): callers do it
        every fraction of a second, not per message)."""
        if self.mode == "estimate":
            for stream in (self.radio, self.camera):
                if stream.c0 is not None:
                    stream.fit(refresh=True)

    def ready(self, final=False):
        """Whether the map can be used: always for same/fixed; for estimate once both streams
        cover min_span_s (or, at the end of a recording, once both have been seen)."""
        if self.mode != "estimate":
            return self.radio_ref is not None or final
        if self.radio.c0 is None or self.camera.c0 is None:
            return False
        if final:
            return True
        return min(self.radio.span_s(), self.camera.span_s()) >= self.min_span_s

    def to_camera(self, radio_ns):
        if self.mode == "same":
            return int(radio_ns)
        if self.mode == "fixed":
            ref = self.radio_ref if self.radio_ref is not None else 0
            return int(radio_ns) + self.offset_ns + int(round(self.drift * (radio_ns - ref)))
        return self.camera.from_host(self.radio.to_host(radio_ns))

    def to_radio(self, camera_ns):
        if self.mode == "same":
            return int(camera_ns)
        if self.mode == "fixed":
            ref = self.radio_ref if self.radio_ref is not None else 0
            # camera = r + offset + drift * (r - ref)  =>  r - ref = (camera - offset - ref) / (1 + drift)
            return ref + int(round((int(camera_ns) - self.offset_ns - ref) / (1.0 + self.drift)))
        return self.radio.from_host(self.camera.to_host(camera_ns))

    def describe(self):
        """Offset at the first radio packet and relative drift of the camera clock, for reports."""
        out = {"mode": self.mode}
        if self.radio_ref is None or (self.mode == "estimate" and not self.ready(final=True)):
            return out
        r0 = self.radio_ref
        m0 = self.to_camera(r0)
        out["offset_ns"] = int(round(m0 - r0))
        m1 = self.to_camera(r0 + 1000 * NS)
        out["rate"] = (m1 - m0) / (1000 * NS)
        out["drift_ppm"] = (out["rate"] - 1.0) * 1e6
        out["at_radio_ns"] = r0
        if self.mode == "estimate":
            out["radio_bins"] = len(self.radio.bins)
            out["camera_bins"] = len(self.camera.bins)
            out["radio_span_s"] = round(self.radio.span_s(), 3)
            out["camera_span_s"] = round(self.camera.span_s(), 3)
        return out
