#!/usr/bin/env python3
"""teacher-mediapipe: a camera pose teacher. MediaPipe BlazePose (mediapipe 0.10.21, the "full"
landmark model its wheel carries; no download) labels every video frame it receives.

Inputs
  frame   UInt8 [H, W, 3] with metadata encoding (rgb8 / bgr8), width, height, t_ns, seq
          (the camera node, the simulator's rendered camera, or any dora-hub camera)

Outputs
  labels  one row per frame: the `labels` contract of README.md (COCO-17 keypoints with
          visibility, boxes, person masks), metadata carrying the frame's t_ns, seq, room, link

Configuration (env)
  MODE              image (default: every frame on its own, deterministic) or video (BlazePose's
                    tracking between frames: faster, but lags on abrupt changes)
  MIN_DETECTION_CONFIDENCE, MIN_TRACKING_CONFIDENCE   BlazePose thresholds (0.5, 0.5)
  VISIBILITY        BlazePose visibility from which a keypoint counts as visible, v = 2 (0.5)
  MASK_THRESHOLD    segmentation probability from which a pixel is the person's (0.5)
  MASK_SCALE        mask size relative to the image, e.g. 0.25 (default 1: the image's size)
  SMOOTH            BlazePose landmark smoothing across frames in video mode (default false: it
                    lags; labels should describe their own frame)
  TEACHER           name recorded with the labels (default "mediapipe")

At the end it logs frames labelled and the time per frame (mean, p50, p95). A frame breaking the
contract (type, shape, dims, encoding, no t_ns or seq) is dropped, named in one line and counted
in the summary, as in the Rust nodes (nodes/wdp-node-py).
"""
import os
import sys
import time

import numpy as np
import pyarrow as pa
from dora import Node

# The Python side of the node runtime: the contract's checks, drops counted, the summary.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wdp-node-py"))
from wdp_node import Malformed, Runtime, frame, meta_int, tensor  # noqa: E402

PREFIX = "teacher-mediapipe:"
# COCO-17 from BlazePose's 33 landmarks: nose, eyes, ears, shoulders, elbows, wrists, hips,
# knees, ankles.
COCO_FROM_BLAZEPOSE = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
MEDIAPIPE_VERSION = "0.10.21"


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


def decode_frame(value, meta):
    """The frame as RGB u8 [H, W, 3], or Malformed naming what is wrong with it."""
    encoding = str(meta.get("encoding", "rgb8")).lower()
    if encoding in ("jpeg", "jpg", "png"):
        import cv2

        data = tensor(value, {"shape": [len(value)]}, np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None:
            raise Malformed("values", f"cannot decode a {encoding} frame")
        return np.ascontiguousarray(bgr[..., ::-1])
    return frame(value, meta)


class Teacher:
    def __init__(self):
        import mediapipe as mp

        if mp.__version__ != MEDIAPIPE_VERSION:
            log(f"warning: mediapipe {mp.__version__}, expected {MEDIAPIPE_VERSION} "
                "(later versions download their models at run time)")
        mode = os.environ.get("MODE", "image").strip().lower()
        if mode not in ("image", "video"):
            raise ValueError(f"MODE must be image or video, not {mode!r}")
        self.mode = mode
        self.visibility = env_float("VISIBILITY", 0.5)
        self.mask_threshold = env_float("MASK_THRESHOLD", 0.5)
        self.mask_scale = env_float("MASK_SCALE", 1.0)
        if not 0 < self.mask_scale <= 1:
            raise ValueError("MASK_SCALE must be in (0, 1]")
        # model_complexity 1 is the "full" landmark model shipped in the wheel; 0 (lite) and
        # 2 (heavy) are downloaded on first use, which cannot work offline.
        self.pose = mp.solutions.pose.Pose(
            static_image_mode=(mode == "image"),
            model_complexity=1,
            smooth_landmarks=env_bool("SMOOTH"),
            enable_segmentation=True,
            smooth_segmentation=False,
            min_detection_confidence=env_float("MIN_DETECTION_CONFIDENCE", 0.5),
            min_tracking_confidence=env_float("MIN_TRACKING_CONFIDENCE", 0.5),
        )

    def label(self, rgb):
        """COCO keypoints [P,17,3] (x, y, v), scores [P,17], boxes [P,5], masks [P,h,w] u8."""
        h, w = rgb.shape[:2]
        result = self.pose.process(rgb)
        if self.mask_scale < 1:
            mh, mw = max(1, round(h * self.mask_scale)), max(1, round(w * self.mask_scale))
        else:
            mh, mw = h, w
        if result.pose_landmarks is None:
            return (np.zeros((0, 17, 3), np.float32), np.zeros((0, 17), np.float32),
                    np.zeros((0, 5), np.float32), np.zeros((0, mh, mw), np.uint8))
        lm = result.pose_landmarks.landmark
        all_xy = np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float64)
        all_vis = np.array([p.visibility for p in lm], dtype=np.float64)
        xy = all_xy[COCO_FROM_BLAZEPOSE]
        vis = all_vis[COCO_FROM_BLAZEPOSE]
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        v = np.where(~inside, 0.0, np.where(vis >= self.visibility, 2.0, 1.0))
        kp = np.zeros((1, 17, 3), np.float32)
        kp[0, :, 0] = np.where(inside, xy[:, 0], 0.0)
        kp[0, :, 1] = np.where(inside, xy[:, 1], 0.0)
        kp[0, :, 2] = v
        # The person mask at the image's size, then (optionally) at the mask size.
        seg = result.segmentation_mask
        full = (seg >= self.mask_threshold) if seg is not None else np.zeros((h, w), bool)
        ys, xs = np.nonzero(full)
        if len(xs):
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        else:
            # No mask: the landmarks' extent, clipped to the image.
            lo, hi = all_xy.min(axis=0), all_xy.max(axis=0)
            box = [max(0, lo[0]), max(0, lo[1]), min(w, hi[0]), min(h, hi[1])]
        score = float(np.mean(vis))
        boxes = np.array([[*box, score]], dtype=np.float32)
        if (mh, mw) != (h, w):
            yi = np.minimum((np.arange(mh) + 0.5) * h / mh, h - 1).astype(int)
            xi = np.minimum((np.arange(mw) + 0.5) * w / mw, w - 1).astype(int)
            full = full[yi][:, xi]
        masks = full.astype(np.uint8)[None]
        return kp, vis.astype(np.float32)[None], boxes, masks


def labels_array(kp, scores, boxes, masks):
    """One-row StructArray: the `labels` contract (README.md)."""
    return pa.StructArray.from_arrays(
        [
            pa.array([kp.ravel()], type=pa.list_(pa.float32())),
            pa.array([scores.ravel()], type=pa.list_(pa.float32())),
            pa.array([boxes.ravel()], type=pa.list_(pa.float32())),
            pa.array([masks.ravel()], type=pa.list_(pa.uint8())),
        ],
        names=["keypoints", "keypoint_scores", "boxes", "masks"],
    )


def main():
    teacher = Teacher()
    name = os.environ.get("TEACHER", "mediapipe")
    node = Node()
    rt = Runtime("teacher-mediapipe", max_drop_reports=20)
    times = []
    people = 0
    log(f"BlazePose full (mediapipe {MEDIAPIPE_VERSION}), {teacher.mode} mode")
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] != "frame":
            rt.unknown(event["id"])
            continue
        meta = event["metadata"]
        try:
            rgb = decode_frame(event["value"], meta)
            t_ns, seq = meta_int(meta, "t_ns"), meta_int(meta, "seq")
        except Malformed as e:
            rt.drop("frame", e)
            continue
        rt.handled()
        h, w = rgb.shape[:2]
        started = time.perf_counter()
        kp, scores, boxes, masks = teacher.label(rgb)
        times.append(time.perf_counter() - started)
        p = kp.shape[0]
        people += p
        out_meta = {
            "t_ns": t_ns,
            "seq": seq,
            "room": str(meta.get("room", "default")),
            "link": str(meta.get("link", "camera0")),
            "teacher": name,
            "model": f"blazepose-full mediapipe=={MEDIAPIPE_VERSION} ({teacher.mode} mode)",
            "n_people": p,
            "image_wh": [w, h],
            "keypoints_shape": [p, 17, 3],
            "keypoint_scores_shape": [p, 17],
            "boxes_shape": [p, 5],
            "masks_shape": list(masks.shape),
            "format": "xyxy",
            "infer_ms": round(times[-1] * 1000, 3),
        }
        node.send_output("labels", labels_array(kp, scores, boxes, masks), out_meta)
    if times:
        ms = np.array(times) * 1000
        log(f"{len(times)} frames labelled ({people} people found, {rt.dropped()} frames dropped): "
            f"{ms.mean():.1f} ms/frame mean, p50 {np.percentile(ms, 50):.1f}, "
            f"p95 {np.percentile(ms, 95):.1f}")
    else:
        log(f"no frame labelled ({rt.dropped()} frames dropped)")
    rt.finish()


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        log(f"error: {e}")
        sys.exit(1)
