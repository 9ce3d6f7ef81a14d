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

This file is the node: its configuration, the inputs' bookkeeping, the summary and the event
loop. pairing.py decides which packets each frame gets, records.py turns messages into row
values and writes the dataset metadata and sync logs, dataset.py the shards and dataset.json,
clocksync.py maps the two clocks, timepair.py holds the radio history.
"""
import json
import os
import sys
import time

import numpy as np
from dora import Node

from clocksync import ClockMap
from dataset import DatasetWriter
from pairing import Pairing
from records import (Malformed, dataset_metadata, decode_labels, decode_packet, decode_rgb,
                     recording_info, write_sync_logs)
from wdp_node import Runtime, meta_int  # on the path through records

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


class Recorder:
    """The node's state: its configuration, the streams' clocks and counts, the pairing
    (pairing.py) and the recording (records.py, dataset.py)."""

    def __init__(self, frames_wired):
        out_dir = os.environ.get("OUT_DIR", "").strip()
        if not out_dir:
            raise ValueError("OUT_DIR is required")
        self.out_dir = out_dir
        self.window = int(os.environ.get("WINDOW", "5"))
        self.tolerance_ns = int(env_float("TOLERANCE_MS", 50.0) * 1e6)
        self.max_span_ns = int(env_float("MAX_SPAN_MS", 1000.0) * 1e6)
        max_wait_ns = int(env_float("MAX_WAIT_S", 2.0) * 1e9)
        history_ns = int(env_float("HISTORY_S", 30.0) * 1e9)
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
        refresh_ns = int(env_float("REFIT_S", 0.5) * 1e9)
        self.observations = [] if env_bool("LOG_OBSERVATIONS") else None
        self.writer = DatasetWriter(out_dir, self.window,
                                    shard_rows=int(os.environ.get("SHARD_ROWS", "1000")),
                                    compress=env_bool("COMPRESS", True))
        self.pairing = Pairing(self.clock, self.window, self.tolerance_ns, self.max_span_ns,
                               max_wait_ns, history_ns, frames_wired, refresh_ns)
        # Radio side.
        self.packet_shape = None
        self.radio_meta = {}
        self.radio_count = 0
        self.radio_skipped = 0
        self.radio_first = None
        self.radio_last = None
        self.radio_intervals = []
        # Camera side.
        self.camera_frames = 0
        self.label_msgs = 0
        self.camera_intervals = []
        self.last_frame_t = None
        self.image_wh = None
        self.teacher = None
        self.teacher_model = None
        # Results beside the pairing's.
        self.truth_errors_ns = []
        self.failures = []
        self.ended_by = None

    def room(self):
        return self.room_override or str(self.radio_meta.get("room", "default"))

    # -- inputs -----------------------------------------------------------------------------
    # Each checks its message whole (Malformed) before it changes anything.
    def on_csi(self, value, meta, now):
        packet = decode_packet(value, meta)
        t = meta_int(meta, "t_ns")
        shape = list(packet.shape)
        if self.packet_shape is None:
            self.packet_shape = shape
            self.radio_meta = meta
        elif shape != self.packet_shape:
            # The dataset's CSI shape is fixed by the first packet.
            raise Malformed("shape", f"{shape}, but this recording's packets are "
                            f"{self.packet_shape}")
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
        # Late packets are sorted in; HISTORY_S of radio time is kept.
        self.pairing.push_packet(t, packet, now)

    def on_frame(self, value, meta, now):
        seq, t = meta_int(meta, "seq"), meta_int(meta, "t_ns")
        rgb = decode_rgb(value, meta)
        self.camera_frames += 1
        if self.last_frame_t is not None and t > self.last_frame_t:
            self.camera_intervals.append(t - self.last_frame_t)
        self.last_frame_t = t
        self.clock.observe_camera(t, now)
        if self.observations is not None:
            self.observations.append(("frame", t, now))
        e = self.pairing.entry(seq, t, now)
        e.arrival_ns, e.has_frame = now, True
        if not self.labels_only:
            e.rgb = rgb

    def on_labels(self, value, meta, now):
        seq, t = meta_int(meta, "seq"), meta_int(meta, "t_ns")
        labels = decode_labels(value, meta)
        self.label_msgs += 1
        if not self.frames_wired:
            self.clock.observe_camera(t, now)
            if self.observations is not None:
                self.observations.append(("labels", t, now))
            if self.last_frame_t is not None and t > self.last_frame_t:
                self.camera_intervals.append(t - self.last_frame_t)
            self.last_frame_t = t
        e = self.pairing.entry(seq, t, now)
        e.labels, e.labels_arrival_ns, e.meta = labels, now, meta
        self.teacher = self.teacher or meta.get("teacher")
        self.teacher_model = self.teacher_model or meta.get("model")
        if "image_wh" in meta:
            self.image_wh = [int(v) for v in meta["image_wh"]]
        if self.truth is not None and not self.frames_wired:
            self.truth.observe_camera(t, now)

    # -- decisions --------------------------------------------------------------------------
    def step(self, now, final=False):
        """Decides the frames that can be decided and writes the matched ones as rows."""
        # Rows are written after the step: a row depends on its own match only.
        for m in self.pairing.step(now, final=final):
            kp, boxes, masks = m.frame.labels
            if self.writer.schema is None:
                self._start_writer()
            self.writer.add(m.frame.seq, m.t_ns, self.room(), np.stack(m.packets), m.packet_t_ns,
                            kp, boxes, masks, None if self.labels_only else m.frame.rgb)
            if self.truth is not None:
                self.truth_errors_ns.append(m.mapped_ns - self.truth.to_camera(m.newest_ns))

    # -- the end ----------------------------------------------------------------------------
    def summary(self):
        p = self.pairing
        frames = p.matched + sum(p.dropped.values()) + p.late_frames
        median = lambda v: float(np.median(v)) if v else None  # noqa: E731
        sync = {
            "clock": self.clock.describe(),
            "window": self.window,
            "tolerance_ms": self.tolerance_ns / 1e6,
            "max_span_ms": self.max_span_ns / 1e6,
            "frames": frames,
            "matched": p.matched,
            "dropped": sum(p.dropped.values()),
            "dropped_by_reason": dict(sorted(p.dropped.items())),
            "late": p.late_frames + p.late_packets,
            "late_frames": p.late_frames,
            "late_packets": p.late_packets,
            "error_ms": stats_ms(p.errors_ns),
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
        info = recording_info(self.room(), self.radio_count, self.radio_meta, self.teacher,
                              self.teacher_model, self.labels_only, self.summary())
        if self.writer.schema is None and self.packet_shape is not None:
            self._start_writer()
        doc = self.writer.close(info)
        write_sync_logs(self.out_dir, self.pairing.log_rows, self.observations)
        return doc

    def _start_writer(self):
        sync = self.summary()
        self.writer.start(self.packet_shape, dataset_metadata(
            self.packet_shape, self.radio_meta, self.room(), sync["radio"]["rate_hz"],
            sync["camera"]["fps"], self.image_wh, self.teacher))


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
    rt = Runtime("teacher-sync", max_drop_reports=20)
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
            handle = {"csi": rec.on_csi, "frame": rec.on_frame, "labels": rec.on_labels}.get(eid)
            if handle is None:
                rt.unknown(eid)
            else:
                try:
                    handle(event["value"], event["metadata"], now)
                    rt.handled()
                except Malformed as e:
                    rt.drop(eid, e)
                    if eid == "csi":
                        rec.radio_skipped += 1
        elif kind == "INPUT_CLOSED":
            eid = event["id"]
            open_inputs.discard(eid)
            if eid == "csi":
                rec.pairing.radio_closed = True
                log(f"radio stream ended after {rec.radio_count} packets")
            elif eid == "frame":
                rec.pairing.frames_closed = True
                log(f"camera stream ended after {rec.camera_frames} frames")
            elif eid == "labels":
                rec.pairing.labels_closed = True
                log(f"teacher stream ended after {rec.label_msgs} labels")
            if not open_inputs:
                # Not the end yet: the stream still brings what came after the last input
                # closed, e.g. the NODE_FAILED of a camera whose input closed first (seen
                # under load). It ends (None) once the daemon has nothing more for us.
                rec.ended_by = rec.ended_by or "all inputs closed"
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
    rt.finish()


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        log(f"error: {e}")
        sys.exit(1)
