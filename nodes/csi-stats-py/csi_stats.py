#!/usr/bin/env python3
"""csi-stats: a Python node that consumes `csi` and prints per-link RSSI and amplitude statistics.

An example of a first-class node in another language: all it needs is the tensor contract,
`np.asarray(value).reshape(metadata["shape"])`.

Inputs:  csi  Float32 [tx, rx, subcarrier, 2] (re, im), metadata t_ns, seq, room, link, rssi_dbm
Outputs: stats  Float32 [tx, rx] mean amplitude per antenna pair over the last REPORT_EVERY packets,
         with metadata t_ns, room, link, packets, rssi_dbm_mean
Config:  REPORT_EVERY (packets per report, default 100)

A message breaking the contract (type, shape, dims, NaN or infinity) is dropped, named in one
line and counted in the summary at the end, as in the Rust nodes (nodes/wdp-node-py).
"""
import os
import sys

import numpy as np
import pyarrow as pa
from dora import Node

# The Python side of the node runtime: the contract's checks, drops counted, the summary.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wdp-node-py"))
from wdp_node import Malformed, Runtime, tensor  # noqa: E402

DIMS = ("tx", "rx", "subcarrier", "complex")


def main():
    every = int(os.environ.get("REPORT_EVERY", "100"))
    if every < 1:
        raise ValueError(f"REPORT_EVERY must be at least 1, not {every}")
    node = Node()
    rt = Runtime("csi-stats", max_drop_reports=20)
    per_link = {}
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] != "csi":
            rt.unknown(event["id"])
            continue
        meta = event["metadata"]
        try:
            csi = tensor(event["value"], meta, np.float32, dims=DIMS)
            if csi.shape[-1] != 2:
                raise Malformed("shape", f"{list(csi.shape)}, want [tx, rx, subcarrier, 2]")
        except Malformed as e:
            rt.drop("csi", e)
            continue
        rt.handled()
        link = f"{meta.get('room', '')}/{meta.get('link', '')}"
        acc = per_link.setdefault(link, {"n": 0, "amp": 0.0, "rssi": []})
        amplitude = np.hypot(csi[..., 0], csi[..., 1]).mean(axis=-1)
        if acc["n"] and acc["amp"].shape != amplitude.shape:
            # A radio reconfigured (antennas changed): its average starts again.
            rt.announce(f"{link}: antennas {list(acc['amp'].shape)} -> {list(amplitude.shape)}, "
                        f"{acc['n']} packets of the old layout not reported")
            acc = per_link[link] = {"n": 0, "amp": 0.0, "rssi": []}
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
    rt.finish()


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        print(f"csi-stats: error: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
