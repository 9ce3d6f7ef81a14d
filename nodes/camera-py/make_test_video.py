#!/usr/bin/env python3
"""Makes the teacher test video from a real photo that a registry package ships: scikit-image's
`data.astronaut()` (512 x 512, NASA portrait of Eileen Collins), mirrored left-right in a known,
irregular set of frames so that a test can tell which frame a label belongs to (the person's left
and right swap sides in a mirrored frame: far more than a teacher's error).

    make_test_video.py OUT.mkv [--fps 10] [--frames 60]

Writes OUT (through OpenCV's FFmpeg: `.mkv` lossless FFV1, `.mp4` MPEG-4 part 2, `.avi` MJPEG)
and OUT.json: fps, frame count, size, codec and
`mirrored`, one flag per frame (x becomes width - x). Run it with the teacher venv's Python
(OpenCV and scikit-image are there).
"""
import argparse
import json
import sys

import cv2
import numpy as np
from skimage import data


# Lossless FFV1 in Matroska keeps the photo's pixels: the teacher sees the photo itself.
CODECS = {"mkv": "FFV1", "mp4": "mp4v", "avi": "MJPG"}


def mirrored(k):
    """Whether frame k is mirrored: an irregular pattern (periods 3 and 7)."""
    return k % 3 == 1 or k % 7 == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    rgb = data.astronaut()
    h, w = rgb.shape[:2]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    ext = args.out.rsplit(".", 1)[-1].lower()
    codec = CODECS.get(ext)
    if codec is None:
        sys.exit(f"make_test_video: write .mkv, .mp4 or .avi, not .{ext}")
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*codec), args.fps, (w, h))
    if not writer.isOpened():
        sys.exit(f"make_test_video: OpenCV cannot write {args.out}")
    flags = []
    for k in range(args.frames):
        flags.append(mirrored(k))
        writer.write(np.ascontiguousarray(bgr[:, ::-1]) if flags[-1] else bgr)
    writer.release()
    with open(args.out + ".json", "w") as f:
        json.dump({"fps": args.fps, "frames": args.frames, "width": w, "height": h,
                   "codec": codec,
                   "photo": "skimage.data.astronaut", "mirrored": flags}, f)
    print(f"wrote {args.out}: {args.frames} frames of {w}x{h} at {args.fps:g} fps")


if __name__ == "__main__":
    main()
