#!/usr/bin/env python3
"""teacher-eval: the teacher's own keypoint accuracy against ground truth (the simulator's
rendered camera), as COCO OKS AP computed by pycocotools.

Inputs
  labels           the teacher's labels (README.md contract), metadata seq, t_ns
  truth_keypoints  Float32 [P, 17, 3] (x, y, v: 2 visible, 1 hidden, 0 out of frame), seq, t_ns
  truth_boxes      Float32 [P, 5] (x1, y1, x2, y2, score)
  truth_parts      UInt8 [P, h, w] part masks (optional: the object area OKS scales by; the
                   box area otherwise)

Frames are joined by `t_ns` (both sides carry the frame's time). Ground-truth people with no
labelled keypoint (v = 0 everywhere) are ignored, as COCO does.

Configuration (env)
  OUT_FILE   where to write the result as JSON (default: only logged)

At the end (all inputs closed, or the dataflow stopped) it logs and writes AP, AP50, AP75, AR,
the frames and people evaluated and the per-keypoint median pixel error of matched people.
"""
import contextlib
import io
import json
import os
import sys

import numpy as np
from dora import Node

PREFIX = "teacher-eval:"
KEYPOINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
             "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def log(msg):
    print(f"{PREFIX} {msg}", file=sys.stderr, flush=True)


def tensor(value, meta, dtype):
    return np.asarray(value.to_numpy(zero_copy_only=False), dtype=dtype).reshape(
        [int(s) for s in meta["shape"]])


def evaluate(frames):
    """frames: list of (truth_kp [P,17,3], truth_box [P,4], areas [P], det_kp [D,17,3],
    det_scores [D]). Returns the COCO keypoint metrics."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, detections = [], [], []
    errors = [[] for _ in range(17)]
    for image_id, (gt, boxes, areas, det, scores) in enumerate(frames, start=1):
        images.append({"id": image_id})
        for p in range(gt.shape[0]):
            labelled = int((gt[p, :, 2] > 0).sum())
            x0, y0, x1, y1 = [float(v) for v in boxes[p, :4]]
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                "keypoints": gt[p].ravel().tolist(), "num_keypoints": labelled,
                "bbox": [x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0)],
                "area": float(areas[p]), "iscrowd": 0,
            })
        for d in range(det.shape[0]):
            kp = det[d].copy()
            kp[:, 2] = 1.0
            detections.append({"image_id": image_id, "category_id": 1,
                               "keypoints": kp.ravel().tolist(), "score": float(scores[d])})
        # Pixel error of the nearest detection (by mean distance) for each labelled person.
        for p in range(gt.shape[0]):
            vis = gt[p, :, 2] > 0
            if not vis.any() or det.shape[0] == 0:
                continue
            dist = np.linalg.norm(det[:, :, :2] - gt[p, None, :, :2], axis=2)
            best = int(np.argmin(np.where(vis[None], dist, 0).sum(axis=1)))
            for k in np.nonzero(vis)[0]:
                errors[k].append(float(dist[best, k]))
    result = {
        "frames": len(frames),
        "people": sum(1 for a in annotations if a["num_keypoints"] > 0),
        "detections": len(detections),
        "median_error_px": {KEYPOINTS[k]: (round(float(np.median(e)), 2) if e else None)
                            for k, e in enumerate(errors)},
    }
    if not detections or result["people"] == 0:
        result.update({"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR": 0.0})
        return result
    gt_coco = COCO()
    gt_coco.dataset = {"images": images, "annotations": annotations,
                       "categories": [{"id": 1, "name": "person", "keypoints": KEYPOINTS,
                                       "skeleton": []}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt_coco.createIndex()
        dt_coco = gt_coco.loadRes(detections)
        ev = COCOeval(gt_coco, dt_coco, iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = [float(v) for v in ev.stats]
    result.update({"AP": s[0], "AP50": s[1], "AP75": s[2], "AR": s[5]})
    return result


def main():
    out_file = os.environ.get("OUT_FILE", "").strip()
    node = Node()
    labels, truth, boxes, areas = {}, {}, {}, {}
    for event in node:
        if event["type"] != "INPUT":
            continue
        meta, eid = event["metadata"], event["id"]
        t = int(meta.get("t_ns", 0))
        if eid == "labels":
            row = event["value"].to_pylist()[0]
            p = int(meta.get("n_people", 0))
            kp = np.asarray(row["keypoints"], np.float32).reshape(p, 17, 3)
            scores = np.asarray(row["boxes"], np.float32).reshape(p, 5)[:, 4]
            labels[t] = (kp, scores)
        elif eid == "truth_keypoints":
            truth[t] = tensor(event["value"], meta, np.float32)
        elif eid == "truth_boxes":
            boxes[t] = tensor(event["value"], meta, np.float32)
        elif eid == "truth_parts":
            parts = tensor(event["value"], meta, np.uint8)
            areas[t] = (parts.reshape(parts.shape[0], -1) > 0).sum(axis=1).astype(np.float64)
    frames = []
    for t in sorted(set(labels) & set(truth) & set(boxes)):
        gt, b = truth[t], boxes[t]
        area = areas.get(t)
        if area is None:
            area = np.maximum(0, b[:, 2] - b[:, 0]) * np.maximum(0, b[:, 3] - b[:, 1])
        frames.append((gt, b, area, *labels[t]))
    result = evaluate(frames)
    result["labelled_frames"] = len(labels)
    result["truth_frames"] = len(truth)
    log(f"teacher OKS AP {result['AP']:.3f} (AP50 {result['AP50']:.3f}, AP75 "
        f"{result['AP75']:.3f}, AR {result['AR']:.3f}) on {result['frames']} frames, "
        f"{result['people']} people, {result['detections']} detections; median px error "
        f"{json.dumps(result['median_error_px'])}")
    if out_file:
        os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
        with open(out_file, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
