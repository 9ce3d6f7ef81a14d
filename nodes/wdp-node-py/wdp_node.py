"""The Python side of the node runtime (nodes/wdp-node): an input message checked against the
tensor contract (docs/CONTRACT.md), bad messages dropped and counted under the field at fault
with one log line each, and the stop summary in the Rust nodes' words, so a dataflow's logs
read the same whatever language a node is written in.

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wdp-node-py"))
    from wdp_node import Malformed, Runtime, tensor

    rt = Runtime("my-node")
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] != "csi":
            rt.unknown(event["id"])
            continue
        try:
            csi = tensor(event["value"], event["metadata"], np.float32,
                         dims=("tx", "rx", "subcarrier", "complex"))
        except Malformed as e:
            rt.drop("csi", e)
            continue
        rt.handled()
    rt.finish()

Pure numpy and pyarrow: it runs in the main venv and in the teacher's (numpy < 2).
"""
import sys

import numpy as np
import pyarrow as pa


class Malformed(ValueError):
    """A message the contract rejects; `field` names the check that failed, as the Rust
    runtime names it: `shape` (also a missing `shape`), `data type`, `dims`, `values` (NaN,
    infinity, nulls) or the metadata key that is missing or wrong."""

    def __init__(self, field, problem):
        super().__init__(f"{field}: {problem}")
        self.field = field


def dims_of(meta):
    """The axis names of a message (`dims`, a comma-separated string or a list), or None."""
    dims = meta.get("dims")
    if dims is None:
        return None
    if isinstance(dims, str):
        return tuple(d.strip() for d in dims.split(",")) if dims else ()
    if isinstance(dims, (list, tuple)) and all(isinstance(d, str) for d in dims):
        return tuple(dims)
    raise Malformed("dims", f"must be a string or a list of strings, not {dims!r}")


def shape_of(meta):
    """The `shape` metadata as a list of non-negative ints."""
    shape = meta.get("shape")
    if shape is None:
        raise Malformed("shape", "no `shape` metadata")
    try:
        shape = [int(s) for s in shape]
    except (TypeError, ValueError):
        raise Malformed("shape", f"must be a list of integers, not {shape!r}") from None
    if any(s < 0 for s in shape):
        raise Malformed("shape", f"negative size in {shape}")
    return shape


def tensor(value, meta, dtype, dims=None, finite=True):
    """The message as an array of `dtype` and its `shape` metadata, or Malformed: the Arrow
    type must be `dtype`'s (no silent cast: an f64 message for an f32 input is a bug upstream),
    the values must fill the shape, which has as many axes as `dims` (when given) and the same
    names when the message names them, and a float tensor must hold no NaN or infinity when `finite`."""
    want = pa.from_numpy_dtype(np.dtype(dtype))
    if not isinstance(value, pa.Array):
        raise Malformed("data type", f"{type(value).__name__}, want an Arrow {want} array")
    if value.type != want:
        raise Malformed("data type", f"{value.type}, want {want}")
    shape = shape_of(meta)
    n = int(np.prod(shape)) if shape else 1
    if len(value) != n:
        raise Malformed("shape", f"{len(value)} values for shape {shape}")
    if dims is not None and len(shape) != len(dims):
        raise Malformed("shape", f"{shape}, want {len(dims)} axes ({', '.join(dims)})")
    got = dims_of(meta)
    if dims is not None and got is not None and tuple(got) != tuple(dims):
        raise Malformed("dims", f"{list(got)}, want {list(dims)}")
    if value.null_count:
        raise Malformed("values", f"{value.null_count} null values")
    array = np.asarray(value.to_numpy(zero_copy_only=False)).reshape(shape)
    if finite and np.issubdtype(array.dtype, np.floating):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise Malformed("values", f"{bad} of {array.size} values are NaN or infinite")
    return array


FRAME_DIMS = ("height", "width", "channel")


def frame(value, meta):
    """A raw camera frame (the `frame` contract: UInt8 [H, W, 3], `encoding` rgb8 or bgr8, or
    `width` and `height` in place of `shape` as the hub's cameras send them) as contiguous RGB,
    or Malformed."""
    encoding = str(meta.get("encoding", "rgb8")).lower()
    if encoding not in ("rgb8", "bgr8"):
        raise Malformed("encoding", f"{encoding!r} (a raw frame is rgb8 or bgr8)")
    if "shape" not in meta and "height" in meta and "width" in meta:
        meta = dict(meta, shape=[meta_int(meta, "height"), meta_int(meta, "width"), 3])
    rgb = tensor(value, meta, np.uint8, dims=FRAME_DIMS)
    if rgb.shape[2] != 3:
        raise Malformed("shape", f"{list(rgb.shape)}, want [H, W, 3]")
    if encoding == "bgr8":
        rgb = rgb[..., ::-1]
    return np.ascontiguousarray(rgb)


def meta_int(meta, key):
    """An integer metadata value (`t_ns`, `seq`, ...), or Malformed naming the key."""
    if key not in meta:
        raise Malformed(key, f"no `{key}` metadata")
    try:
        return int(meta[key])
    except (TypeError, ValueError):
        raise Malformed(key, f"must be an integer, not {meta[key]!r}") from None


class Runtime:
    """Counts of one run and the lines a node says: each dropped message in one line (up to
    `max_drop_reports` per input, then only counted), the summary at the end."""

    def __init__(self, name, max_drop_reports=None):
        self.name = name
        self.max_drop_reports = max_drop_reports
        self.handled_count = 0
        self.failed = 0
        self.bad = {}
        self.unknown_ids = {}
        self._reported = {}

    def announce(self, line):
        print(f"{self.name}: {line}", file=sys.stderr, flush=True)

    def handled(self, n=1):
        self.handled_count += n

    def unknown(self, input_id):
        """An input this node does not have: skipped, counted in the summary."""
        self.unknown_ids[input_id] = self.unknown_ids.get(input_id, 0) + 1

    def drop(self, input_id, error):
        """Drops one message of `input_id` for `error` (a Malformed is counted under its field,
        anything else as failed)."""
        if isinstance(error, Malformed):
            key = f"{input_id}/{error.field}"
            self.bad[key] = self.bad.get(key, 0) + 1
        else:
            self.failed += 1
        reported = self._reported[input_id] = self._reported.get(input_id, 0) + 1
        if self.max_drop_reports is not None and reported > self.max_drop_reports:
            return
        self.announce(f"dropping `{input_id}` message: {error}")
        if reported == self.max_drop_reports:
            self.announce(f"further bad `{input_id}` messages are only counted")

    def dropped(self):
        return sum(self.bad.values()) + self.failed

    def summary(self):
        """The Rust runtime's summary line: `NAME: N messages handled, D dropped (bad: input/field
        n, ...; failed: F), unknown inputs ignored: `id` n`."""
        line = f"{self.name}: {self.handled_count} messages handled, {self.dropped()} dropped"
        if self.dropped():
            bad = ", ".join(f"{k} {n}" for k, n in sorted(self.bad.items()))
            line += f" (bad: {bad}; failed: {self.failed})"
        if self.unknown_ids:
            unknown = ", ".join(f"`{k}` {n}" for k, n in sorted(self.unknown_ids.items()))
            line += f", unknown inputs ignored: {unknown}"
        return line

    def finish(self):
        print(self.summary(), file=sys.stderr, flush=True)
