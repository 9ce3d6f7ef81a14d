#!/usr/bin/env python3
"""teacher-sync: pairs CSI windows with labelled video frames by capture time and records them as
a dataset in the schema of `wdp simulate` (operators/wdp-sim/SCHEMA.md).

Inputs
  csi     Float32 [tx, rx, subcarrier, 2] per packet, metadata t_ns (radio clock), seq, room,
          subcarriers (csi-source)
  frame   the camera's frames (UInt8 [H, W, 3], t_ns on the camera clock, seq): their arrival
          times measure the camera's clock, and their pixels fill the `rgb` column (optional
          input: without it the labels' arrival is used, which includes the teacher's delay)
  labels  the teacher's labels of each frame (nodes/teacher-mediapipe/README.md), carrying the
          frame's t_ns and seq

Rows: one per labelled frame that has `WINDOW` packets before it, the newest at most
TOLERANCE_MS before the frame (after mapping radio time onto the camera clock) and the oldest at
most MAX_SPAN_MS before the newest. Other frames are counted as dropped, with the reason. The
row's `t_ns` is the frame time on the radio clock (the schema's rule: the CSI timestamps' clock).

Configuration (env)
  OUT_DIR         recording folder (shards, dataset.json, sync/frames.arrow)   required
  WINDOW          packets per row (5)          TOLERANCE_MS   (50)     MAX_SPAN_MS (1000)
  SYNC_CLOCK      estimate (default: offset and drift from arrival times, see clocksync.py),
                  same (both devices stamped by one clock), fixed (OFFSET_NS, DRIFT_PPM:
                  camera = radio + OFFSET_NS + DRIFT_PPM * 1e-6 * (radio - first radio time))
  MIN_SPAN_S      estimate: seconds of both streams before the first decision (3)
  REFIT_S         estimate: how often the clock lines are refitted (0.5 s)
  FIT_WINDOW_S, FIT_BIN_S, OUTLIER_MS   estimate: sliding fit length (120), bin (0.1), outlier (20)
  MAX_WAIT_S      how long a labelled frame waits for the radio to pass its time (2)
  HISTORY_S       radio history kept for late labels (30)
  LABELS_ONLY     never store video frames: `rgb` is null (default false)
  SHARD_ROWS      rows per shard (1000)        COMPRESS   LZ4 (true)
  ROOM            room name for the rows (default: the csi messages' room)
  LOG_OBSERVATIONS  also write sync/observations.arrow: every (stream, capture time, arrival
                  time) the clock fit saw, to study a set-up's clocks (default false)
  TRUE_OFFSET_NS, TRUE_DRIFT_PPM   when the true clock relation is known (the simulator: 0, 0),
                  report the estimated map's error against it

A camera, teacher or radio that stops, a failed node, or a stop of the dataflow: every frame
received so far is decided, the shard is closed and dataset.json written (`sync` holds the
counts and the clock). The summary is also printed.
"""
import json
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from dora import Node

from clocksync import ClockMap
from dataset import DatasetWriter
from timepair import NEWEST_AT_OR_BEFORE, TimeBuffer

PREFIX = "teacher-sync:"
DATA_INPUTS = ("csi", "frame", "labels")


def log(msg):
    print(f"{PREFIX} {msg}", file=sys.stderr, flush=True)


def env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


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


def stats_ms(values_ns):
    if not values_ns:
        return None
    ms = np.asarray(values_ns, dtype=np.float64) / 1e6
    return {
        "n": int(ms.size),
        "mean": round(float(ms.mean()), 3),
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p95": round(float(np.percentile(ms, 95)), 3),
        "max": round(float(ms.max()), 3),
    }


def decode_labels(value, meta):
    """The labels contract: one row with keypoints [P,17,3], boxes [P,5], masks [P,h,w]."""
    row = value.to_pylist()[0] if isinstance(value, pa.StructArray) else None
    if row is None:
        raise ValueError("labels must be a one-row StructArray (see teacher-mediapipe/README.md)")
    shape = lambda key, default: [int(v) for v in meta.get(key, default)]  # noqa: E731
    p = int(meta.get("n_people", len(row["keypoints"]) // 51))
    kp = np.asarray(row["keypoints"], dtype=np.float32).reshape(shape("keypoints_shape",
                                                                      [p, 17, 3]))
    boxes = np.asarray(row["boxes"], dtype=np.float32).reshape(shape("boxes_shape", [p, 5]))
    masks = np.asarray(row["masks"], dtype=np.uint8).reshape(shape("masks_shape", [p, 0, 0]))
    if not (kp.shape[0] == boxes.shape[0] == masks.shape[0] == p) or kp.shape[1:] != (17, 3):
        raise ValueError(f"inconsistent labels: keypoints {kp.shape}, boxes {boxes.shape}, "
                         f"masks {masks.shape}, n_people {p}")
    return kp, boxes, masks


class Recorder:
    def __init__(self, frames_wired):
        out_dir = os.environ.get("OUT_DIR", "").strip()
        if not out_dir:
            raise ValueError("OUT_DIR is required")
        self.out_dir = out_dir
        self.window = int(os.environ.get("WINDOW", "5"))
        self.tolerance_ns = int(env_float("TOLERANCE_MS", 50.0) * 1e6)
        self.max_span_ns = int(env_float("MAX_SPAN_MS", 1000.0) * 1e6)
        self.max_wait_ns = int(env_float("MAX_WAIT_S", 2.0) * 1e9)
        self.history_ns = int(env_float("HISTORY_S", 30.0) * 1e9)
        self.labels_only = env_bool("LABELS_ONLY")
        self.room_override = os.environ.get("ROOM", "").strip() or None
        self.clock = ClockMap(
            mode=os.environ.get("SYNC_CLOCK", "estimate").strip().lower(),
            offset_ns=int(float(os.environ.get("OFFSET_NS", "0") or 0)),
            drift_ppm=env_float("DRIFT_PPM", 0.0),
            min_span_s=env_float("MIN_SPAN_S", 3.0),
            bin_s=env_float("FIT_BIN_S", 0.1),
            window_s=env_float("FIT_WINDOW_S", 120.0),
            outlier_s=env_float("OUTLIER_MS", 20.0) / 1e3,
        )
        self.truth = None
        if os.environ.get("TRUE_OFFSET_NS", "") != "" or os.environ.get("TRUE_DRIFT_PPM", "") != "":
            self.truth = ClockMap("fixed", int(float(os.environ.get("TRUE_OFFSET_NS", "0") or 0)),
                                  env_float("TRUE_DRIFT_PPM", 0.0))
        self.frames_wired = frames_wired
        self.refresh_ns = int(env_float("REFIT_S", 0.5) * 1e9)
        self.refreshed_ns = 0
        self.observations = [] if env_bool("LOG_OBSERVATIONS") else None
        self.writer = DatasetWriter(out_dir, self.window,
                                    shard_rows=int(os.environ.get("SHARD_ROWS", "1000")),
                                    compress=env_bool("COMPRESS", True))
        # Radio history: (packet, arrival) by radio time, HISTORY_S of it; a frame pairs with
        # the newest packet at or before its time (the tolerance is checked on the camera clock).
        self.radio = TimeBuffer(NEWEST_AT_OR_BEFORE, max_age_ns=self.history_ns, reorder_ns=None)
        self.packet_shape = None
        self.radio_meta = {}
        self.radio_count = 0
        self.radio_skipped = 0
        self.radio_first = None
        self.radio_last = None
        self.radio_intervals = []
        self.radio_closed = False
        self.decided_radio_high = None
        self.late_packets = 0
        # Camera side.
        self.pending = {}
        self.camera_frames = 0
        self.label_msgs = 0
        self.frames_closed = not frames_wired
        self.labels_closed = False
        self.camera_intervals = []
        self.last_frame_t = None
        self.image_wh = None
        self.teacher = None
        self.teacher_model = None
        # Results.
        self.matched = 0
        self.dropped = {}
        self.late_frames = 0
        self.errors_ns = []
        self.truth_errors_ns = []
        self.log_rows = []
        self.failures = []
        self.ended_by = None

    # -- inputs -----------------------------------------------------------------------------
    def on_csi(self, value, meta, now):
        shape = [int(s) for s in meta.get("shape", [])]
        if len(shape) != 4 or shape[-1] != 2:
            self.radio_skipped += 1
            return
        if self.packet_shape is None:
            self.packet_shape = shape
            self.radio_meta = meta
        elif shape != self.packet_shape:
            # The dataset's CSI shape is fixed by the first packet.
            self.radio_skipped += 1
            return
        t = int(meta["t_ns"])
        self.radio_count += 1
        if self.radio_last is not None and t > self.radio_last:
            self.radio_intervals.append(t - self.radio_last)
        self.radio_first = t if self.radio_first is None else min(self.radio_first, t)
        self.radio_last = t if self.radio_last is None else max(self.radio_last, t)
        self.clock.observe_radio(t, now)
        if self.observations is not None:
            self.observations.append(("csi", t, now))
        if self.truth is not None:
            self.truth.observe_radio(t, now)
        if self.decided_radio_high is not None and t <= self.decided_radio_high:
            self.late_packets += 1
        values = np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(shape)
        # Late packets are sorted in; HISTORY_S of radio time is kept.
        self.radio.push(t, (values, now))

    def _entry(self, seq, t, now):
        e = self.pending.get(seq)
        if e is None:
            e = Pending(seq=seq, t_ns=t, arrival_ns=now)
            self.pending[seq] = e
        return e

    def on_frame(self, value, meta, now):
        seq, t = int(meta["seq"]), int(meta["t_ns"])
        self.camera_frames += 1
        if self.last_frame_t is not None and t > self.last_frame_t:
            self.camera_intervals.append(t - self.last_frame_t)
        self.last_frame_t = t
        self.clock.observe_camera(t, now)
        if self.observations is not None:
            self.observations.append(("frame", t, now))
        e = self._entry(seq, t, now)
        e.arrival_ns, e.has_frame = now, True
        if not self.labels_only:
            shape = [int(s) for s in meta.get("shape", [meta["height"], meta["width"], 3])]
            rgb = np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.uint8).reshape(shape)
            if str(meta.get("encoding", "rgb8")).lower() == "bgr8":
                rgb = rgb[..., ::-1]
            e.rgb = np.ascontiguousarray(rgb)

    def on_labels(self, value, meta, now):
        seq, t = int(meta["seq"]), int(meta["t_ns"])
        self.label_msgs += 1
        try:
            labels = decode_labels(value, meta)
        except (ValueError, KeyError) as err:
            log(f"labels of frame {seq} unreadable: {err}")
            return
        if not self.frames_wired:
            self.clock.observe_camera(t, now)
            if self.observations is not None:
                self.observations.append(("labels", t, now))
            if self.last_frame_t is not None and t > self.last_frame_t:
                self.camera_intervals.append(t - self.last_frame_t)
            self.last_frame_t = t
        e = self._entry(seq, t, now)
        e.labels, e.labels_arrival_ns, e.meta = labels, now, meta
        self.teacher = self.teacher or meta.get("teacher")
        self.teacher_model = self.teacher_model or meta.get("model")
        if "image_wh" in meta:
            self.image_wh = [int(v) for v in meta["image_wh"]]
        if self.truth is not None and not self.frames_wired:
            self.truth.observe_camera(t, now)

    # -- decisions --------------------------------------------------------------------------
    def drop(self, reason):
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def step(self, now, final=False):
        """Decides the frames that can be decided, in camera time order."""
        if not self.pending or not self.clock.ready(final=final):
            return
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
            self.decide(e)

    def decide(self, e):
        r_f = self.clock.to_radio(e.t_ns)
        self.decided_radio_high = r_f if self.decided_radio_high is None else max(
            self.decided_radio_high, r_f)
        times = self.radio.times
        if not times:
            status = "no_radio" if self.radio_count == 0 else "late"
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
        kp, boxes, masks = e.labels
        if self.writer.schema is None:
            self._start_writer()
        csi = np.stack([packet for packet, _ in self.radio.items[idx - self.window:idx]])
        room = self.room_override or str(self.radio_meta.get("room", "default"))
        self.writer.add(e.seq, r_f, room, csi, times[idx - self.window:idx], kp, boxes,
                        masks, None if self.labels_only else e.rgb)
        self.matched += 1
        self.errors_ns.append(err)
        if self.truth is not None:
            self.truth_errors_ns.append(mapped - self.truth.to_camera(newest))
        self._log_frame(e, "matched", r_f, newest, mapped, self.radio.items[idx - 1][1])

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

    # -- the end ----------------------------------------------------------------------------
    def summary(self):
        frames = self.matched + sum(self.dropped.values()) + self.late_frames
        median = lambda v: float(np.median(v)) if v else None  # noqa: E731
        sync = {
            "clock": self.clock.describe(),
            "window": self.window,
            "tolerance_ms": self.tolerance_ns / 1e6,
            "max_span_ms": self.max_span_ns / 1e6,
            "frames": frames,
            "matched": self.matched,
            "dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(sorted(self.dropped.items())),
            "late": self.late_frames + self.late_packets,
            "late_frames": self.late_frames,
            "late_packets": self.late_packets,
            "error_ms": stats_ms(self.errors_ns),
            "radio": {
                "packets": self.radio_count,
                "skipped_packets": self.radio_skipped,
                "first_t_ns": self.radio_first,
                "last_t_ns": self.radio_last,
                "rate_hz": (1e9 / median(self.radio_intervals)) if self.radio_intervals else None,
            },
            "camera": {
                "frames": self.camera_frames,
                "labels": self.label_msgs,
                "fps": (1e9 / median(self.camera_intervals)) if self.camera_intervals else None,
            },
            "failed_nodes": self.failures,
            "ended_by": self.ended_by,
        }
        if self.truth is not None:
            sync["truth"] = self.truth.describe()
            sync["map_error_ms"] = stats_ms([abs(v) for v in self.truth_errors_ns])
        return sync

    def close(self):
        self.clock.refresh()
        self.step(time.monotonic_ns(), final=True)
        sync = self.summary()
        room = self.room_override or str(self.radio_meta.get("room", "default"))
        teacher = self.teacher or "unknown"
        info = {
            "room": room,
            "packets": self.radio_count,
            "subcarriers": [int(s) for s in self.radio_meta.get("subcarriers", [])],
            "source": "teacher-capture",
            "labels": f"teacher:{teacher}",
            "teacher": {"name": teacher, "model": self.teacher_model},
            "labels_only": self.labels_only,
            "sync": sync,
        }
        if self.writer.schema is None and self.packet_shape is not None:
            self._start_writer()
        doc = self.writer.close(info)
        self._write_frame_log()
        return doc

    def _start_writer(self):
        rate = self.summary()["radio"]["rate_hz"]
        fps = self.summary()["camera"]["fps"]
        subcarriers = [int(s) for s in self.radio_meta.get("subcarriers",
                                                          range(self.packet_shape[2]))]
        self.writer.start(self.packet_shape, {
            "subcarriers": json.dumps(subcarriers, separators=(",", ":")),
            "carrier_hz": str(self.radio_meta.get("carrier_hz", 0)),
            "packet_rate_hz": f"{rate:.3f}" if rate else "0",
            "fps": f"{fps:.3f}" if fps else "0",
            "room": self.room_override or str(self.radio_meta.get("room", "default")),
            "seed": "",
            "image_wh": json.dumps(self.image_wh or [0, 0]),
            "labels": f"teacher:{self.teacher or 'unknown'}",
        })

    def _write_frame_log(self):
        os.makedirs(os.path.join(self.out_dir, "sync"), exist_ok=True)
        if self.observations:
            streams, captures, arrivals = zip(*self.observations)
            table = pa.table({"stream": pa.array(streams, pa.utf8()),
                              "capture_ns": pa.array(captures, pa.int64()),
                              "arrival_ns": pa.array(arrivals, pa.int64())})
            with pa.ipc.new_file(os.path.join(self.out_dir, "sync", "observations.arrow"),
                                 table.schema) as w:
                w.write_table(table)
        if not self.log_rows:
            return
        cols = {k: [r[k] for r in self.log_rows] for k in self.log_rows[0]}
        types = {"seq": pa.uint64(), "status": pa.utf8()}
        table = pa.table({k: pa.array(v, type=types.get(k, pa.int64())) for k, v in cols.items()})
        path = os.path.join(self.out_dir, "sync", "frames.arrow")
        with pa.ipc.new_file(path, table.schema) as w:
            w.write_table(table)


def frames_input_wired(node):
    """Whether this node's `frame` input is connected in the dataflow."""
    try:
        desc = node.dataflow_descriptor()
        me = os.environ.get("DORA_NODE_ID")
        for n in desc.get("nodes", []):
            if me is None or n.get("id") == me:
                if "frame" in (n.get("inputs") or {}):
                    return True
        return False
    except Exception:  # noqa: BLE001 - the descriptor API is informational here
        return True


def main():
    node = Node()
    rec = Recorder(frames_input_wired(node))
    log(f"recording into {rec.out_dir}: window {rec.window}, tolerance "
        f"{rec.tolerance_ns / 1e6:g} ms, clock {rec.clock.mode}"
        + (", labels only (no video frames stored)" if rec.labels_only else ""))
    open_inputs = set(DATA_INPUTS if rec.frames_wired else ("csi", "labels"))
    stop_seen = False
    while True:
        event = node.next(timeout=0.5)
        now = time.monotonic_ns()
        if event is None:
            rec.ended_by = rec.ended_by or ("stop" if stop_seen else "event stream closed")
            break
        kind = event["type"]
        if kind == "INPUT":
            eid = event["id"]
            if eid == "csi":
                rec.on_csi(event["value"], event["metadata"], now)
            elif eid == "frame":
                rec.on_frame(event["value"], event["metadata"], now)
            elif eid == "labels":
                rec.on_labels(event["value"], event["metadata"], now)
        elif kind == "INPUT_CLOSED":
            eid = event["id"]
            open_inputs.discard(eid)
            if eid == "csi":
                rec.radio_closed = True
                log(f"radio stream ended after {rec.radio_count} packets")
            elif eid == "frame":
                rec.frames_closed = True
                log(f"camera stream ended after {rec.camera_frames} frames")
            elif eid == "labels":
                rec.labels_closed = True
                log(f"teacher stream ended after {rec.label_msgs} labels")
            if not open_inputs:
                rec.ended_by = "all inputs closed"
                break
        elif kind == "STOP":
            # Inputs queued before the stop are still delivered: keep reading until the end.
            stop_seen = True
        elif kind == "NODE_FAILED":
            failed = event.get("id") or event.get("source_node") or str(event)
            rec.failures.append(str(failed))
            log(f"upstream node failed: {failed}")
        elif kind == "ERROR":
            message = str(event.get("error", ""))
            if "timed out" not in message.lower():
                log(f"error event: {message.splitlines()[0] if message else event}")
        rec.step(now)
    doc = rec.close()
    s = doc["sync"]
    log(f"recording closed ({s['ended_by']}): {doc['rows']} rows in {len(doc['shards'])} shards; "
        f"frames {s['frames']}: matched {s['matched']}, dropped {s['dropped']} "
        f"{s['dropped_by_reason']}, late {s['late']} (frames {s['late_frames']}, packets "
        f"{s['late_packets']}); clock {json.dumps(s['clock'])}; error ms {s['error_ms']}"
        + (f"; map error vs truth ms {s['map_error_ms']}" if "map_error_ms" in s else ""))


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        log(f"error: {e}")
        sys.exit(1)
