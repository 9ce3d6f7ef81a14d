"""Writes teacher recordings in the dataset schema of `wdp simulate` (operators/wdp-sim/SCHEMA.md):
Arrow IPC file shards of up to SHARD_ROWS rows in record batches of up to 32 rows, LZ4-frame
compressed, and dataset.json. The trainer reads these exactly like simulated datasets.

Teacher rows differ from simulated ones only in what the labels can say: `part_index` holds 255
where the teacher's person mask is (0 background: a camera teacher knows the person, not the
DensePose part), `uv` is null, `track_id` numbers the people of the frame from 0.
"""
import json
import os

import numpy as np
import pyarrow as pa

SCHEMA_VERSION = 1
BATCH_ROWS = 32
PERSON_PART = 255
# operators/wdp-sim/src/body.rs PART_NAMES: the ids 1-24 of simulated part_index.
PART_NAMES = [
    "torso_back", "torso_front", "right_hand", "left_hand", "left_foot", "right_foot",
    "upper_leg_right_back", "upper_leg_left_back", "upper_leg_right_front",
    "upper_leg_left_front", "lower_leg_right_back", "lower_leg_left_back",
    "lower_leg_right_front", "lower_leg_left_front", "upper_arm_left_inside",
    "upper_arm_right_inside", "upper_arm_left_outside", "upper_arm_right_outside",
    "lower_arm_left_inside", "lower_arm_right_inside", "lower_arm_left_outside",
    "lower_arm_right_outside", "head_right", "head_left",
]


def _item(t):
    return pa.field("item", t, nullable=True)


def dataset_schema(csi_len, window, metadata):
    """The Arrow schema of wdp_sim::dataset::dataset_schema, field for field."""
    def lst(name, t, nullable=False):
        return pa.field(name, pa.list_(_item(t)), nullable=nullable)

    return pa.schema(
        [
            pa.field("seq", pa.uint64(), nullable=False),
            pa.field("t_ns", pa.int64(), nullable=False),
            pa.field("room", pa.utf8(), nullable=False),
            pa.field("csi", pa.list_(_item(pa.float32()), csi_len), nullable=False),
            pa.field("csi_t_ns", pa.list_(_item(pa.int64()), window), nullable=False),
            pa.field("n_people", pa.uint32(), nullable=False),
            lst("track_id", pa.uint32()),
            lst("keypoints", pa.float32()),
            lst("boxes", pa.float32()),
            pa.field("mask_height", pa.uint32(), nullable=False),
            pa.field("mask_width", pa.uint32(), nullable=False),
            lst("part_index", pa.uint8()),
            lst("uv", pa.float32(), nullable=True),
            pa.field("rgb_height", pa.uint32(), nullable=False),
            pa.field("rgb_width", pa.uint32(), nullable=False),
            lst("rgb", pa.uint8(), nullable=True),
            # A camera teacher knows no floor position, and the gain is not carried: null rows.
            lst("position_m", pa.float32(), nullable=True),
            pa.field("csi_agc_db", pa.list_(_item(pa.float32()), window), nullable=True),
        ],
        metadata=metadata,
    )


def _list_array(chunks, value_type, nullable_rows=None):
    """A list<value_type> array from per-row numpy arrays (None = a null row)."""
    offsets = [0]
    values = []
    mask = []
    for c in chunks:
        if c is None:
            offsets.append(offsets[-1])
            mask.append(True)
        else:
            flat = np.asarray(c).ravel()
            values.append(flat)
            offsets.append(offsets[-1] + flat.size)
            mask.append(False)
    np_type = value_type.to_pandas_dtype()
    flat = np.concatenate(values).astype(np_type, copy=False) if values else np.zeros(0, np_type)
    typ = pa.list_(_item(value_type))
    offsets = pa.array(offsets, type=pa.int32())
    if any(mask):
        return pa.ListArray.from_arrays(offsets, pa.array(flat, type=value_type), type=typ,
                                        mask=pa.array(mask, type=pa.bool_()))
    return pa.ListArray.from_arrays(offsets, pa.array(flat, type=value_type), type=typ)


class DatasetWriter:
    """Rows in, shards and dataset.json out. Nothing is written before the first row except
    dataset.json at close, so an empty recording is a dataset.json with `rows: 0`."""

    def __init__(self, out_dir, window, shard_rows=1000, compress=True):
        if window <= 0:
            raise ValueError("window must be > 0")
        if shard_rows <= 0:
            raise ValueError("shard_rows must be > 0")
        self.out_dir = out_dir
        self.window = window
        self.shard_rows = shard_rows
        self.compress = compress
        self.schema = None
        self.csi_shape = None
        self.writer = None
        self.shards = []
        self.rows = 0
        self.rows_in_shard = 0
        self.batch = []
        self.mask_hw = None
        self.rgb_hw = None
        self.people = 0
        self.first_t = None
        self.last_t = None
        os.makedirs(out_dir, exist_ok=True)

    def start(self, packet_shape, metadata):
        """Fixes the CSI shape ([tx, rx, sub, 2] of one packet) and the schema metadata."""
        self.csi_shape = [self.window, *[int(s) for s in packet_shape]]
        csi_len = int(np.prod(self.csi_shape))
        meta = {f"wdp.{k}": str(v) for k, v in metadata.items()}
        meta["wdp.schema_version"] = str(SCHEMA_VERSION)
        meta["wdp.csi_shape"] = json.dumps(self.csi_shape)
        meta["wdp.csi_axes"] = "packet, tx, rx, subcarrier, re/im"
        meta["wdp.keypoints_shape"] = "[n_people, 17, 3]"
        meta["wdp.boxes_shape"] = "[n_people, 4]"
        meta["wdp.part_index_shape"] = "[n_people, mask_height, mask_width]"
        meta["wdp.uv_shape"] = "[n_people, 2, mask_height, mask_width]"
        meta["wdp.rgb_shape"] = "[rgb_height, rgb_width, 3]"
        meta["wdp.position_m_shape"] = "[n_people, 3]"
        meta["wdp.part_names"] = json.dumps(PART_NAMES)
        meta["wdp.part_index_values"] = (
            f"0 background, {PERSON_PART} person (part unknown: teacher labels)")
        self.schema = dataset_schema(csi_len, self.window, meta)

    def add(self, seq, t_ns, room, csi, csi_t_ns, keypoints, boxes, masks, rgb):
        """One row: csi [window, tx, rx, sub, 2] f32, csi_t_ns [window], keypoints [P,17,3]
        (x, y, v), boxes [P, >=4], masks [P, h, w] (nonzero = the person), rgb [H, W, 3] or None."""
        if self.schema is None:
            raise RuntimeError("DatasetWriter.start was not called")
        csi = np.asarray(csi, dtype=np.float32)
        if list(csi.shape) != self.csi_shape:
            raise ValueError(f"csi window {list(csi.shape)}, dataset has {self.csi_shape}")
        p = int(keypoints.shape[0])
        h, w = int(masks.shape[1]), int(masks.shape[2])
        self.mask_hw = self.mask_hw or [h, w]
        if rgb is not None:
            self.rgb_hw = self.rgb_hw or [int(rgb.shape[0]), int(rgb.shape[1])]
        self.people = max(self.people, p)
        self.first_t = t_ns if self.first_t is None else min(self.first_t, t_ns)
        self.last_t = t_ns if self.last_t is None else max(self.last_t, t_ns)
        part_index = np.where(np.asarray(masks) > 0, PERSON_PART, 0).astype(np.uint8)
        self.batch.append({
            "seq": int(seq),
            "t_ns": int(t_ns),
            "room": room,
            "csi": csi.ravel(),
            "csi_t_ns": np.asarray(csi_t_ns, dtype=np.int64),
            "n_people": p,
            "track_id": np.arange(p, dtype=np.uint32),
            "keypoints": np.asarray(keypoints, dtype=np.float32).reshape(p, 17, 3),
            "boxes": np.asarray(boxes, dtype=np.float32).reshape(p, -1 if p else 4)[:, :4],
            "mask_height": h,
            "mask_width": w,
            "part_index": part_index,
            "rgb": None if rgb is None else np.asarray(rgb, dtype=np.uint8),
        })
        self.rows += 1
        self.rows_in_shard += 1
        shard_full = self.rows_in_shard >= self.shard_rows
        if len(self.batch) >= BATCH_ROWS or shard_full:
            self._write_batch()
        if shard_full:
            self._close_shard()

    def _open_shard(self):
        path = os.path.join(self.out_dir, f"shard-{len(self.shards):05d}.arrow")
        options = pa.ipc.IpcWriteOptions(compression="lz4" if self.compress else None)
        self.writer = pa.ipc.new_file(path, self.schema, options=options)
        self.shards.append(os.path.basename(path))

    def _write_batch(self):
        if not self.batch:
            return
        if self.writer is None:
            self._open_shard()
        b = self.batch
        n = len(b)
        u32 = lambda k: pa.array([r[k] for r in b], type=pa.uint32())  # noqa: E731
        csi_values = pa.array(np.concatenate([r["csi"] for r in b]), type=pa.float32())
        t_values = pa.array(np.concatenate([r["csi_t_ns"] for r in b]), type=pa.int64())
        rgb = [r["rgb"] for r in b]
        cols = [
            pa.array([r["seq"] for r in b], type=pa.uint64()),
            pa.array([r["t_ns"] for r in b], type=pa.int64()),
            pa.array([r["room"] for r in b], type=pa.utf8()),
            pa.FixedSizeListArray.from_arrays(csi_values, type=self.schema.field("csi").type),
            pa.FixedSizeListArray.from_arrays(t_values, type=self.schema.field("csi_t_ns").type),
            u32("n_people"),
            _list_array([r["track_id"] for r in b], pa.uint32()),
            _list_array([r["keypoints"] for r in b], pa.float32()),
            _list_array([r["boxes"] for r in b], pa.float32()),
            u32("mask_height"),
            u32("mask_width"),
            _list_array([r["part_index"] for r in b], pa.uint8()),
            pa.nulls(n, type=pa.list_(_item(pa.float32()))),
            pa.array([0 if x is None else x.shape[0] for x in rgb], type=pa.uint32()),
            pa.array([0 if x is None else x.shape[1] for x in rgb], type=pa.uint32()),
            _list_array(rgb, pa.uint8()),
            pa.nulls(n, type=pa.list_(_item(pa.float32()))),
            pa.nulls(n, type=self.schema.field("csi_agc_db").type),
        ]
        self.writer.write_batch(pa.RecordBatch.from_arrays(cols, schema=self.schema))
        self.batch = []

    def _close_shard(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.rows_in_shard = 0

    def flush(self):
        self._write_batch()

    def close(self, info):
        """Writes what is left, closes the shard and writes dataset.json (info: the recording's
        own fields, merged in). Returns the dataset.json content."""
        self._write_batch()
        self._close_shard()
        doc = {
            "schema_version": SCHEMA_VERSION,
            "rows": self.rows,
            "window": self.window,
            "shards": list(self.shards),
            "csi_shape": self.csi_shape,
            "mask_hw": self.mask_hw,
            "rgb_hw": self.rgb_hw,
            "people": self.people,
            "duration_s": (0.0 if self.first_t is None
                           else round((self.last_t - self.first_t) / 1e9, 6)),
            "seed": None,
            "scene": None,
        }
        doc.update(info)
        self.write_json(doc)
        return doc

    def write_json(self, doc):
        path = os.path.join(self.out_dir, "dataset.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, path)
