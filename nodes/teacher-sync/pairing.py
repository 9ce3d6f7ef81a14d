"""Which radio packets a labelled frame becomes a row with, and when that is decided
(README.md, "Pairing"): the radio history, the frames waiting for it, and every frame's outcome.

A frame at camera time t pairs with the `window` packets received last before t mapped onto the
radio clock; the newest at most `tolerance_ns` before t (on the camera clock), the window at most
`max_span_ns` long. It is decided once the radio has passed t, the radio stream has ended, or
`max_wait_ns` after its labels (or frame) arrived, never earlier: a packet still to come could be
the one. Every frame is counted once: matched, dropped (by reason) or late.

Nothing here reads messages or writes files: frames and packets come in as values, matches go
out as `Match`es for the recorder to write.
"""
from dataclasses import dataclass, field

from timepair import NEWEST_AT_OR_BEFORE, TimeBuffer


@dataclass
class Pending:
    seq: int
    t_ns: int  # camera clock
    arrival_ns: int  # sync node clock, of the frame (or of the labels without frames)
    rgb: object = None
    labels: object = None
    labels_arrival_ns: int = 0
    has_frame: bool = False
    meta: dict = field(default_factory=dict)


@dataclass
class Match:
    """A frame paired with its packets: what a dataset row needs, and how well it fits."""
    frame: Pending
    t_ns: int  # the frame's time on the radio clock (the row's t_ns)
    packets: list  # the `window` packets' values, oldest first
    packet_t_ns: list  # their radio times
    newest_ns: int  # radio time of the newest packet
    mapped_ns: int  # that time on the camera clock
    error_ns: int  # frame time minus mapped_ns


class Pairing:
    """Frames and radio packets in, decisions out (`step`). `clock` maps between the radio and
    camera clocks (clocksync.ClockMap); it is refitted every `refresh_ns` while deciding."""

    def __init__(self, clock, window, tolerance_ns, max_span_ns, max_wait_ns, history_ns,
                 frames_wired, refresh_ns):
        self.clock = clock
        self.window = window
        self.tolerance_ns = tolerance_ns
        self.max_span_ns = max_span_ns
        self.max_wait_ns = max_wait_ns
        self.frames_wired = frames_wired
        self.refresh_ns = refresh_ns
        self.refreshed_ns = 0
        # Radio history: (packet, arrival) by radio time, history_ns of it; a frame pairs with
        # the newest packet at or before its time (the tolerance is checked on the camera clock).
        self.radio = TimeBuffer(NEWEST_AT_OR_BEFORE, max_age_ns=history_ns, reorder_ns=None)
        self.decided_radio_high = None
        # Set by the node when its inputs close.
        self.radio_closed = False
        self.frames_closed = not frames_wired
        self.labels_closed = False
        # Frames by seq, until decided.
        self.pending = {}
        # Results.
        self.matched = 0
        self.dropped = {}
        self.late_frames = 0
        self.late_packets = 0
        self.errors_ns = []
        self.log_rows = []

    # -- inputs -----------------------------------------------------------------------------
    def push_packet(self, t, values, arrival_ns):
        """A radio packet of radio time t (any order: late packets are sorted in)."""
        if self.decided_radio_high is not None and t <= self.decided_radio_high:
            self.late_packets += 1
        self.radio.push(t, (values, arrival_ns))

    def entry(self, seq, t, now):
        """The waiting frame `seq` (camera time t), added on its first message (frame or labels);
        the caller fills in what that message carries."""
        e = self.pending.get(seq)
        if e is None:
            e = Pending(seq=seq, t_ns=t, arrival_ns=now)
            self.pending[seq] = e
        return e

    # -- decisions --------------------------------------------------------------------------
    def drop(self, reason):
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def step(self, now, final=False):
        """Decides the frames that can be decided, in camera time order; returns the matches.
        final: nothing more will come, decide every frame."""
        matches = []
        if not self.pending or not self.clock.ready(final=final):
            return matches
        if final or now - self.refreshed_ns >= self.refresh_ns:
            self.clock.refresh()
            self.refreshed_ns = now
        order = sorted(self.pending.values(), key=lambda e: e.t_ns)
        labelled_later = [False] * len(order)
        seen = False
        for i in range(len(order) - 1, -1, -1):
            labelled_later[i] = seen
            seen = seen or order[i].labels is not None
        for i, e in enumerate(order):
            if e.labels is None:
                # Labels come in frame order: a later frame's labels mean this one's never will.
                if final or self.labels_closed or labelled_later[i]:
                    del self.pending[e.seq]
                    self.drop("unlabelled")
                    self._log_frame(e, "unlabelled")
                    continue
                break
            if self.frames_wired and not e.has_frame and not (final or self.frames_closed):
                break
            newest = self.radio.newest()
            radio_passed = newest is not None and self.clock.to_camera(newest) >= e.t_ns
            waited = now - max(e.arrival_ns, e.labels_arrival_ns) > self.max_wait_ns
            if not (final or radio_passed or self.radio_closed or waited):
                break
            del self.pending[e.seq]
            match = self.decide(e)
            if match is not None:
                matches.append(match)
        return matches

    def decide(self, e):
        """The outcome of frame e, counted and logged: its Match, or None."""
        r_f = self.clock.to_radio(e.t_ns)
        self.decided_radio_high = r_f if self.decided_radio_high is None else max(
            self.decided_radio_high, r_f)
        times = self.radio.times
        if not times:
            status = "no_radio" if self.radio.stats["pushed"] == 0 else "late"
            if status == "late":
                self.late_frames += 1
            else:
                self.drop(status)
            return self._log_frame(e, status, r_f)
        found = self.radio.find(r_f)
        idx = 0 if found is None else found + 1  # packets at or before the frame
        if idx < self.window:
            if self.radio.forgotten is not None and r_f >= self.radio.forgotten:
                self.late_frames += 1
                return self._log_frame(e, "late", r_f)
            self.drop("before_radio")
            return self._log_frame(e, "before_radio", r_f)
        newest = times[idx - 1]
        mapped = self.clock.to_camera(newest)
        err = e.t_ns - mapped
        if err > self.tolerance_ns:
            if idx == len(times) and self.radio_closed:
                reason = "after_radio_end"
            elif idx == len(times):
                reason = "radio_silent"
            else:
                reason = "gap"
            self.drop(reason)
            return self._log_frame(e, reason, r_f, newest, mapped)
        oldest = times[idx - self.window]
        if newest - oldest > self.max_span_ns:
            self.drop("span")
            return self._log_frame(e, "span", r_f, newest, mapped)
        self.matched += 1
        self.errors_ns.append(err)
        self._log_frame(e, "matched", r_f, newest, mapped, self.radio.items[idx - 1][1])
        return Match(
            frame=e,
            t_ns=r_f,
            packets=[packet for packet, _ in self.radio.items[idx - self.window:idx]],
            packet_t_ns=times[idx - self.window:idx],
            newest_ns=newest,
            mapped_ns=mapped,
            error_ns=err,
        )

    def _log_frame(self, e, status, r_f=None, newest=None, mapped=None, newest_arrival=None):
        self.log_rows.append({
            "seq": e.seq,
            "status": status,
            "frame_t_ns": e.t_ns,
            "frame_arrival_ns": e.arrival_ns,
            "frame_radio_t_ns": None if r_f is None else int(r_f),
            "csi_newest_t_ns": newest,
            "csi_newest_camera_t_ns": None if mapped is None else int(mapped),
            "csi_newest_arrival_ns": newest_arrival,
            "error_ns": None if mapped is None else int(e.t_ns - mapped),
        })
