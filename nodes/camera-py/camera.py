#!/usr/bin/env python3
"""camera: video frames from a V4L2 camera or a video file, with their capture time.

Outputs
  frame  UInt8 [H, W, 3], flat in height x width x channel order. Metadata (dora-hub image
         convention beside the project's tensor contract):
           encoding   "rgb8" (or "bgr8", ENCODING)      width, height   integers
           primitive  "image"                            shape [H, W, 3], dims "height,width,channel"
           t_ns       capture time on the camera's clock (see below)
           seq        frame index from 0 (keeps counting across loops)
           room, link names from ROOM / LINK            fps       nominal frame rate
           source     "device" or "file"                 frame_pos position in the file (frames)

Capture time (`t_ns`)
  device  the driver's buffer timestamp (CLOCK_MONOTONIC) moved onto the host's wall clock
          (CLOCK_REALTIME, the clock csi-source stamps live packets with), or the wall clock right
          after the grab when the driver gives none.
  file    START_NS + the frame's position in the video (its presentation time), so a file keeps
          its own timeline: the clock of the camera that recorded it. With LOOP the time keeps
          increasing across loops.

Configuration (env)
  VIDEO       a video file (mp4, mkv, avi, ... whatever OpenCV's FFmpeg reads)
  DEVICE      a V4L2 device (/dev/video0) or a camera index (0); used when VIDEO is not set
  PACING      file: "realtime" (its own frame rate, default) or "fast" (as fast as the consumers take)
  SPEED       realtime replay speed factor (default 1)
  LOOP        file: start again at the end (default false)
  FPS         frame rate to use when the file or device does not report one (default 30)
  WIDTH, HEIGHT   device: requested resolution
  START_NS    file: capture time of the first frame (default 0)
  MAX_FRAMES  stop after this many frames
  ENCODING    rgb8 (default) or bgr8
  ROOM, LINK  names carried on every frame (default "default", "camera0")

A camera or file that cannot be opened, or whose first frame cannot be read, ends the node with an
error naming it. The end of a video file is logged and ends the node cleanly (its output closes,
so the nodes downstream see the stream end). A device that stops delivering frames is reported
and ends the node the same way.
"""
import os
import sys
import time

import cv2
import numpy as np
import pyarrow as pa
from dora import Node

PREFIX = "camera:"


def log(msg):
    print(f"{PREFIX} {msg}", file=sys.stderr, flush=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


class SourceError(Exception):
    """A camera or file that cannot be used: the message names it and says why."""


def open_file(path):
    if not os.path.exists(path):
        raise SourceError(f"cannot open video file {path!r}: no such file")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise SourceError(f"cannot open video file {path!r}: not a readable file")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SourceError(f"cannot open video file {path!r}: OpenCV cannot decode it")
    return cap


def open_device(device, width, height):
    index = int(device) if device.isdigit() else None
    if index is None and not os.path.exists(device):
        raise SourceError(f"cannot open camera {device!r}: no such device")
    cap = cv2.VideoCapture(index if index is not None else device, cv2.CAP_V4L2)
    if not cap.isOpened():
        raise SourceError(f"cannot open camera {device!r}: the V4L2 driver refused it "
                          "(busy, no permission, or not a capture device)")
    if width:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    if height:
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    return cap


def device_time_ns(cap):
    """Capture time of the frame just grabbed from a V4L2 device, on the wall clock."""
    wall = time.time_ns()
    mono = time.monotonic_ns()
    buf_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    if buf_ms and buf_ms > 0:
        buf_ns = int(buf_ms * 1e6)
        # The V4L2 buffer timestamp is CLOCK_MONOTONIC; accept it when it is recent.
        if 0 <= mono - buf_ns < 2_000_000_000:
            return wall - (mono - buf_ns)
    return wall


class Pacer:
    """Sends file frames at their own rate: frame time t is due at start + t / speed."""

    def __init__(self, speed):
        self.speed = speed
        self.start = None

    def restart(self):
        self.start = None

    def wait(self, t_ns):
        now = time.monotonic_ns()
        if self.start is None:
            self.start = (now, t_ns)
            return
        due = self.start[0] + (t_ns - self.start[1]) / self.speed
        delay = (due - now) / 1e9
        if delay > 0:
            time.sleep(delay)


def stop_requested(node):
    """True once the dataflow asked this node to stop (a source ignores other events)."""
    while True:
        event = node.try_recv()
        if event is None:
            return False
        if event["type"] == "STOP":
            return True


def main():
    video = os.environ.get("VIDEO", "").strip()
    device = os.environ.get("DEVICE", "").strip()
    pacing = os.environ.get("PACING", "realtime").strip().lower()
    if pacing not in ("realtime", "fast"):
        raise SourceError(f"PACING must be realtime or fast, not {pacing!r}")
    speed = env_float("SPEED", 1.0)
    if speed <= 0:
        raise SourceError("SPEED must be > 0")
    looping = env_bool("LOOP")
    encoding = os.environ.get("ENCODING", "rgb8").strip()
    if encoding not in ("rgb8", "bgr8"):
        raise SourceError(f"ENCODING must be rgb8 or bgr8, not {encoding!r}")
    max_frames = int(os.environ["MAX_FRAMES"]) if os.environ.get("MAX_FRAMES") else None
    start_ns = int(os.environ.get("START_NS", "0") or 0)
    room = os.environ.get("ROOM", "default")
    link = os.environ.get("LINK", "camera0")

    # Join the dataflow first, so that a source error is reported as this node's failure
    # (the consumers then see its output close) rather than as a node that never started.
    node = Node()
    if video:
        cap = open_file(video)
        name, source = video, "file"
    elif device:
        cap = open_device(device, int(os.environ.get("WIDTH", "0") or 0),
                          int(os.environ.get("HEIGHT", "0") or 0))
        name, source = device, "device"
    else:
        raise SourceError("set VIDEO (a video file) or DEVICE (a V4L2 camera)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not fps or fps <= 0 or fps > 1000:
        fps = env_float("FPS", 30.0)
    frame_ns = 1e9 / fps

    pacer = Pacer(speed)
    sent = 0
    loop_offset_ns = 0
    loops = 0
    reason = "stopped by the dataflow"
    started = time.monotonic()
    log(f"reading {source} {name!r} at {fps:g} fps"
        + (f", {pacing} pacing" if source == "file" else ""))
    while True:
        if stop_requested(node):
            break
        if max_frames is not None and sent >= max_frames:
            reason = f"MAX_FRAMES={max_frames} reached"
            break
        if source == "file":
            pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
            ok, bgr = cap.read()
            if not ok:
                if sent == 0 and loops == 0:
                    raise SourceError(f"cannot read a frame from video file {name!r}")
                if looping and pos > 0:
                    loops += 1
                    loop_offset_ns += int(round(pos * frame_ns))
                    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) != 0:
                        cap.release()
                        cap = open_file(video)
                    continue
                reason = f"end of video file {name!r}"
                break
            # The frame's presentation time; frame index / fps when the container has none.
            pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            t_file = int(round(pos_ms * 1e6)) if pos_ms and pos_ms > 0 else int(round(pos * frame_ns))
            if pos == 0:
                t_file = 0
            t_ns = start_ns + loop_offset_ns + t_file
            if pacing == "realtime":
                pacer.wait(t_ns)
        else:
            if not cap.grab():
                if sent == 0:
                    raise SourceError(f"cannot read a frame from camera {name!r}")
                reason = f"camera {name!r} stopped delivering frames"
                break
            t_ns = device_time_ns(cap)
            ok, bgr = cap.retrieve()
            if not ok:
                reason = f"camera {name!r} stopped delivering frames"
                break
            pos = sent
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if encoding == "rgb8" else bgr
        image = np.ascontiguousarray(image, dtype=np.uint8)
        h, w = image.shape[:2]
        node.send_output(
            "frame",
            pa.array(image.ravel()),
            {
                "shape": [h, w, 3],
                "dims": "height,width,channel",
                "t_ns": int(t_ns),
                "seq": sent,
                "room": room,
                "link": link,
                "encoding": encoding,
                "width": w,
                "height": h,
                "primitive": "image",
                "fps": float(fps),
                "source": source,
                "frame_pos": int(pos),
            },
        )
        sent += 1
    cap.release()
    elapsed = time.monotonic() - started
    log(f"{reason}: {sent} frames sent in {elapsed:.1f} s"
        + (f" ({loops} loops)" if loops else ""))


if __name__ == "__main__":
    try:
        main()
    except SourceError as e:
        log(f"error: {e}")
        sys.exit(1)
