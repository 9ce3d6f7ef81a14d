"""The recording's side of teacher-sync: messages converted into what a dataset row holds, the
dataset's metadata and dataset.json fields, and the sync logs (README.md, "Output").
The rows themselves are written by dataset.DatasetWriter.
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa

# The Python side of the node runtime: the tensor contract's checks.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wdp-node-py"))
from wdp_node import Malformed, frame, tensor  # noqa: E402

CSI_DIMS = ("tx", "rx", "subcarrier", "complex")


def decode_labels(value, meta):
    """The labels contract: one row with keypoints [P,17,3], boxes [P,5], masks [P,h,w]; or
    Malformed naming the column at fault."""
    if not isinstance(value, pa.StructArray) or len(value) != 1:
        raise Malformed("data type", "labels must be a one-row StructArray (see "
                        "teacher-mediapipe/README.md)")
    row = value.to_pylist()[0]
    for key in ("keypoints", "boxes", "masks"):
        if row.get(key) is None:
            raise Malformed(key, "missing")
    try:
        p = int(meta.get("n_people", len(row["keypoints"]) // 51))
        shape = lambda key, default: [int(v) for v in meta.get(key, default)]  # noqa: E731
        kp = np.asarray(row["keypoints"], dtype=np.float32).reshape(shape("keypoints_shape",
                                                                          [p, 17, 3]))
        boxes = np.asarray(row["boxes"], dtype=np.float32).reshape(shape("boxes_shape", [p, 5]))
        masks = np.asarray(row["masks"], dtype=np.uint8).reshape(shape("masks_shape", [p, 0, 0]))
    except (TypeError, ValueError) as e:
        raise Malformed("shape", f"labels: {e}") from None
    if not (kp.shape[0] == boxes.shape[0] == masks.shape[0] == p) or kp.shape[1:] != (17, 3):
        raise Malformed("shape", f"inconsistent labels: keypoints {kp.shape}, boxes "
                        f"{boxes.shape}, masks {masks.shape}, n_people {p}")
    if not (np.isfinite(kp).all() and np.isfinite(boxes).all()):
        raise Malformed("values", "keypoints or boxes with NaN or infinity")
    return kp, boxes, masks


def decode_rgb(value, meta):
    """A camera frame as contiguous RGB [H, W, 3] (a `bgr8` frame's channels reversed)."""
    return frame(value, meta)


def decode_packet(value, meta):
    """A CSI packet as float32 [tx, rx, subcarrier, 2], finite."""
    csi = tensor(value, meta, np.float32, dims=CSI_DIMS)
    if csi.shape[-1] != 2:
        raise Malformed("shape", f"{list(csi.shape)}, want [tx, rx, subcarrier, 2]")
    return csi


def dataset_metadata(packet_shape, radio_meta, room, rate_hz, fps, image_wh, teacher):
    """The schema metadata of the shards (DatasetWriter.start): the radio's subcarriers and
    carrier, the measured packet rate and frame rate, the room, the image size and the teacher."""
    subcarriers = [int(s) for s in radio_meta.get("subcarriers", range(packet_shape[2]))]
    return {
        "subcarriers": json.dumps(subcarriers, separators=(",", ":")),
        "carrier_hz": str(radio_meta.get("carrier_hz", 0)),
        "packet_rate_hz": f"{rate_hz:.3f}" if rate_hz else "0",
        "fps": f"{fps:.3f}" if fps else "0",
        "room": room,
        "seed": "",
        "image_wh": json.dumps(image_wh or [0, 0]),
        "labels": f"teacher:{teacher or 'unknown'}",
    }


def recording_info(room, packets, radio_meta, teacher, teacher_model, labels_only, sync):
    """The recording's own fields of dataset.json, beside the simulator's (DatasetWriter.close)."""
    teacher = teacher or "unknown"
    return {
        "room": room,
        "packets": packets,
        "subcarriers": [int(s) for s in radio_meta.get("subcarriers", [])],
        "source": "teacher-capture",
        "labels": f"teacher:{teacher}",
        "teacher": {"name": teacher, "model": teacher_model},
        "labels_only": labels_only,
        "sync": sync,
    }


def write_sync_logs(out_dir, log_rows, observations):
    """sync/frames.arrow (one row per frame, from pairing.Pairing's log) and, when observations
    were kept and there are any, sync/observations.arrow ((stream, capture, arrival) tuples)."""
    os.makedirs(os.path.join(out_dir, "sync"), exist_ok=True)
    if observations:
        streams, captures, arrivals = zip(*observations)
        table = pa.table({"stream": pa.array(streams, pa.utf8()),
                          "capture_ns": pa.array(captures, pa.int64()),
                          "arrival_ns": pa.array(arrivals, pa.int64())})
        with pa.ipc.new_file(os.path.join(out_dir, "sync", "observations.arrow"),
                             table.schema) as w:
            w.write_table(table)
    if not log_rows:
        return
    cols = {k: [r[k] for r in log_rows] for k in log_rows[0]}
    types = {"seq": pa.uint64(), "status": pa.utf8()}
    table = pa.table({k: pa.array(v, type=types.get(k, pa.int64())) for k, v in cols.items()})
    path = os.path.join(out_dir, "sync", "frames.arrow")
    with pa.ipc.new_file(path, table.schema) as w:
        w.write_table(table)
