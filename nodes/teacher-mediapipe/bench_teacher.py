#!/usr/bin/env python3
"""Teacher speed per frame on this machine, outside any dataflow: the same Teacher class the node
runs, on the frames of a video file or on the `rgb` frames of a dataset (e.g. `wdp simulate`).

    .venv-teacher/bin/python nodes/teacher-mediapipe/bench_teacher.py VIDEO_OR_DATASET_DIR \
        [--mode image|video] [--frames N] [--repeat R]

Prints frames, people found and ms per frame (mean, p50, p95) for the frame size it ran on.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from teacher_mediapipe import Teacher  # noqa: E402


def video_frames(path, limit):
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f"bench_teacher: cannot open {path}")
    frames = []
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    return frames


def dataset_frames(folder, limit):
    import pyarrow as pa

    frames = []
    for shard in sorted(glob.glob(os.path.join(folder, "shard-*.arrow"))):
        table = pa.ipc.open_file(shard).read_all()
        for row in table.select(["rgb", "rgb_height", "rgb_width"]).to_pylist():
            if row["rgb"] is not None:
                frames.append(np.asarray(row["rgb"], np.uint8).reshape(
                    row["rgb_height"], row["rgb_width"], 3))
            if len(frames) >= limit:
                return frames
    return frames


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("--mode", default="image", choices=["image", "video"])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    os.environ["MODE"] = args.mode
    if os.path.isdir(args.source):
        frames = dataset_frames(args.source, args.frames)
    else:
        frames = video_frames(args.source, args.frames)
    if not frames:
        sys.exit("bench_teacher: no frames")
    teacher = Teacher()
    teacher.label(frames[0])  # warm-up: graph start
    times, people = [], 0
    for _ in range(args.repeat):
        for rgb in frames:
            t = time.perf_counter()
            kp, _, _, _ = teacher.label(rgb)
            times.append(time.perf_counter() - t)
            people += kp.shape[0]
    ms = np.array(times) * 1000
    h, w = frames[0].shape[:2]
    print(f"{args.mode} mode, {w}x{h}: {len(times)} frames, {people} people found, "
          f"{ms.mean():.1f} ms/frame mean, p50 {np.percentile(ms, 50):.1f}, "
          f"p95 {np.percentile(ms, 95):.1f}")


if __name__ == "__main__":
    main()
