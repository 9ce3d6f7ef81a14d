"""Reference COCO keypoint evaluation with pycocotools, for the wdp-eval tests.

Usage: coco_reference.py GT.json DETS.json
GT.json is a COCO ground-truth file (images, annotations with keypoints/num_keypoints/bbox/area/
iscrowd, categories); DETS.json a COCO keypoint results list (image_id, category_id, keypoints,
score). Prints {"stats": [10 numbers]} (COCOeval.stats for iouType='keypoints') as the last line
of stdout.
"""

import contextlib
import io
import json
import sys

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def main() -> None:
    gt_path, dt_path = sys.argv[1], sys.argv[2]
    # pycocotools prints progress on stdout; keep stdout for the JSON answer.
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        with open(dt_path) as f:
            dets = json.load(f)
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    print(json.dumps({"stats": [float(s) for s in ev.stats]}))


if __name__ == "__main__":
    main()
