#!/usr/bin/env python3
"""csi-stats: a Python node that consumes `csi` and prints per-link RSSI and amplitude statistics.

An example of a first-class node in another language: all it needs is the tensor contract,
`np.asarray(value).reshape(metadata["shape"])`.

Inputs:  csi  Float32 [tx, rx, subcarrier, 2] (re, im), metadata t_ns, seq, room, link, rssi_dbm
Outputs: stats  Float32 [tx, rx] mean amplitude per antenna pair over the last REPORT_EVERY packets,
         with metadata t_ns, room, link, packets, rssi_dbm_mean
Config:  REPORT_EVERY (packets per report, default 100)
"""
import os
import sys

import numpy as np
import pyarrow as pa
from dora import Node


def decode(value, metadata):
    """The contract: a flat Arrow array plus its shape."""
    shape = metadata.get("shape")
    if shape is None:
        raise ValueError("message has no `shape` parameter")
    values = np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.float32)
    return values.reshape(shape)


def main():
    every = int(os.environ.get("REPORT_EVERY", "100"))
    node = Node()
    per_link = {}
    for event in node:
        if event["type"] != "INPUT" or event["id"] != "csi":
            continue
        meta = event["metadata"]
        try:
            csi = decode(event["value"], meta)
        except ValueError as e:
            print(f"csi-stats: dropping message: {e}", file=sys.stderr)
            continue
        if csi.ndim != 4 or csi.shape[-1] != 2:
            print(f"csi-stats: dropping message of shape {csi.shape}", file=sys.stderr)
            continue
        link = f"{meta.get('room', '')}/{meta.get('link', '')}"
        acc = per_link.setdefault(link, {"n": 0, "amp": 0.0, "rssi": []})
        amplitude = np.hypot(csi[..., 0], csi[..., 1]).mean(axis=-1)
        acc["amp"] = acc["amp"] + amplitude if acc["n"] else amplitude
        acc["n"] += 1
        if "rssi_dbm" in meta:
            acc["rssi"].append(float(meta["rssi_dbm"]))
        if acc["n"] >= every:
            mean_amp = (acc["amp"] / acc["n"]).astype(np.float32)
            rssi = float(np.mean(acc["rssi"])) if acc["rssi"] else float("nan")
            print(
                f"csi-stats {link}: {acc['n']} packets, rssi {rssi:.1f} dBm, "
                f"mean |H| per (tx,rx) {np.round(mean_amp, 1).tolist()}",
                flush=True,
            )
            node.send_output(
                "stats",
                pa.array(mean_amp.ravel()),
                {
                    "shape": list(mean_amp.shape),
                    "dims": "tx,rx",
                    "t_ns": int(meta.get("t_ns", 0)),
                    "room": meta.get("room", ""),
                    "link": meta.get("link", ""),
                    "packets": acc["n"],
                    "rssi_dbm_mean": rssi,
                },
            )
            per_link[link] = {"n": 0, "amp": 0.0, "rssi": []}


if __name__ == "__main__":
    main()
