"""Unit tests of the conversions and files of records.py: the labels contract and camera frames
into arrays, the shards' metadata, dataset.json's recording fields, the sync logs:
python -m unittest discover -s nodes/teacher-sync  (tests/teacher_capture.rs runs them too).
"""
import json
import os
import tempfile
import unittest

import numpy as np
import pyarrow as pa

from records import (Malformed, dataset_metadata, decode_labels, decode_packet, decode_rgb,
                     recording_info, write_sync_logs)


def labels_value(kp, boxes, masks):
    return pa.StructArray.from_arrays(
        [pa.array([np.ravel(kp).tolist()], pa.list_(pa.float32())),
         pa.array([np.ravel(boxes).tolist()], pa.list_(pa.float32())),
         pa.array([np.ravel(masks).tolist()], pa.list_(pa.uint8()))],
        ["keypoints", "boxes", "masks"])


class DecodeTest(unittest.TestCase):
    def test_labels_are_shaped_by_their_metadata(self):
        kp = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3)
        boxes = np.arange(10, dtype=np.float32).reshape(2, 5)
        masks = (np.arange(2 * 3 * 4) % 2).astype(np.uint8).reshape(2, 3, 4)
        meta = {"n_people": 2, "keypoints_shape": [2, 17, 3], "boxes_shape": [2, 5],
                "masks_shape": [2, 3, 4]}
        got = decode_labels(labels_value(kp, boxes, masks), meta)
        for a, b in zip(got, (kp, boxes, masks)):
            np.testing.assert_array_equal(a, b)
            self.assertEqual(a.dtype, b.dtype)

    def test_no_people_without_shapes_in_the_metadata(self):
        kp, boxes, masks = decode_labels(labels_value([], [], []), {})
        self.assertEqual((kp.shape, boxes.shape, masks.shape), ((0, 17, 3), (0, 5), (0, 0, 0)))

    def test_labels_that_disagree_are_refused(self):
        kp, boxes = np.zeros((1, 17, 3)), np.zeros((1, 5))
        with self.assertRaisesRegex(ValueError, "inconsistent labels"):
            decode_labels(labels_value(kp, boxes, np.zeros((1, 2, 2))),
                          {"n_people": 2, "keypoints_shape": [1, 17, 3],
                           "boxes_shape": [1, 5], "masks_shape": [1, 2, 2]})
        with self.assertRaises(ValueError):
            decode_labels(labels_value(kp, boxes, np.zeros(3)), {"masks_shape": [1, 2, 2]})
        with self.assertRaisesRegex(ValueError, "one-row StructArray"):
            decode_labels(pa.array([1.0]), {})
        kp[0, 3, 0] = np.nan
        with self.assertRaisesRegex(Malformed, "NaN"):
            decode_labels(labels_value(kp, boxes, np.zeros((1, 2, 2))), {"masks_shape": [1, 2, 2]})

    def test_a_bgr_frame_becomes_rgb(self):
        pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
        value = pa.array(pixels.ravel())
        rgb = decode_rgb(value, {"height": 2, "width": 3})
        np.testing.assert_array_equal(rgb, pixels)
        bgr = decode_rgb(value, {"height": 2, "width": 3, "shape": [2, 3, 3], "encoding": "BGR8"})
        np.testing.assert_array_equal(bgr, pixels[..., ::-1])
        self.assertTrue(bgr.flags["C_CONTIGUOUS"])

    def test_a_packet_takes_its_shape(self):
        meta = {"shape": [1, 2, 4, 2], "dims": "tx,rx,subcarrier,complex"}
        p = decode_packet(pa.array(np.arange(16, dtype=np.float32)), meta)
        self.assertEqual((p.shape, p.dtype, float(p[0, 1, 3, 1])), ((1, 2, 4, 2), np.float32, 15))

    def test_a_packet_breaking_the_contract_names_the_field(self):
        good = np.arange(16, dtype=np.float32)
        meta = {"shape": [1, 2, 4, 2], "dims": "tx,rx,subcarrier,complex"}
        cases = [
            (pa.array(good.astype(np.float64)), meta, "data type"),
            (pa.array(good[:8]), meta, "shape"),
            (pa.array(good), {"dims": meta["dims"]}, "shape"),
            (pa.array(good), dict(meta, shape=[2, 4, 2]), "shape"),
            (pa.array(good), dict(meta, dims="a,b,c,d"), "dims"),
            (pa.array(np.where(good == 3, np.inf, good).astype(np.float32)), meta, "values"),
            (pa.array([1.0] * 15 + [None], pa.float32()), meta, "values"),
        ]
        for value, m, field in cases:
            with self.assertRaises(Malformed) as caught:
                decode_packet(value, m)
            self.assertEqual(caught.exception.field, field, str(caught.exception))


class RecordingTest(unittest.TestCase):
    def test_metadata_and_info_name_the_radio_the_rates_and_the_teacher(self):
        meta = dataset_metadata([1, 2, 3, 2], {"carrier_hz": 5.2e9}, "lab", 99.99961, None,
                                None, None)
        self.assertEqual(meta, {"subcarriers": "[0,1,2]", "carrier_hz": "5200000000.0",
                                "packet_rate_hz": "100.000", "fps": "0", "room": "lab",
                                "seed": "", "image_wh": "[0, 0]", "labels": "teacher:unknown"})
        meta = dataset_metadata([1, 2, 3, 2], {"subcarriers": [-1, 1, 3]}, "lab", None, 30.0,
                                [64, 48], "mediapipe")
        self.assertEqual((meta["subcarriers"], meta["packet_rate_hz"], meta["fps"],
                          meta["image_wh"], meta["labels"]),
                         ("[-1,1,3]", "0", "30.000", "[64, 48]", "teacher:mediapipe"))
        info = recording_info("lab", 7, {"subcarriers": [2, 4]}, None, None, True, {"x": 1})
        self.assertEqual(info, {"room": "lab", "packets": 7, "subcarriers": [2, 4],
                                "source": "teacher-capture", "labels": "teacher:unknown",
                                "teacher": {"name": "unknown", "model": None},
                                "labels_only": True, "sync": {"x": 1}})
        json.dumps(info)

    def test_the_sync_logs_hold_one_row_per_frame_and_observation(self):
        rows = [{"seq": 3, "status": "matched", "frame_t_ns": 10, "error_ns": 2},
                {"seq": 4, "status": "gap", "frame_t_ns": 20, "error_ns": None}]
        with tempfile.TemporaryDirectory() as d:
            write_sync_logs(d, rows, [("csi", 1, 5), ("frame", 2, 6)])
            with pa.ipc.open_file(os.path.join(d, "sync", "frames.arrow")) as r:
                frames = r.read_all()
            with pa.ipc.open_file(os.path.join(d, "sync", "observations.arrow")) as r:
                obs = r.read_all()
        self.assertEqual(frames.schema.field("seq").type, pa.uint64())
        self.assertEqual(frames.schema.field("frame_t_ns").type, pa.int64())
        self.assertEqual(frames.to_pydict(), {"seq": [3, 4], "status": ["matched", "gap"],
                                              "frame_t_ns": [10, 20], "error_ns": [2, None]})
        self.assertEqual(obs.to_pydict(), {"stream": ["csi", "frame"], "capture_ns": [1, 2],
                                           "arrival_ns": [5, 6]})

    def test_nothing_to_log_writes_only_the_folder(self):
        with tempfile.TemporaryDirectory() as d:
            write_sync_logs(d, [], None)
            self.assertEqual(os.listdir(os.path.join(d, "sync")), [])


if __name__ == "__main__":
    unittest.main()
