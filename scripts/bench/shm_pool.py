#!/usr/bin/env python3
"""How long a message takes from one dora node to the next when it fits the sender's
shared-memory pool and when it does not (dora then copies it through the heap and the daemon).

    .venv/bin/python scripts/bench/shm_pool.py [--messages 100] [--hz 20]

Runs a real two-node dataflow (this script as sender and receiver, the dora CLI on PATH) per
case: 4 MB messages with dora's default 8 MB pool and with `shared_memory_pool_size: 64 MB`,
9.2 MB (a 1920x1600 RGB frame) with both. Prints the sender-to-receiver time
(wall clock, same machine) at p50 / p90 / max, the first 10 messages left out (warm-up)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MB = 1_000_000


def send(size: int, messages: int, hz: float) -> None:
    import numpy as np
    import pyarrow as pa
    from dora import Node

    node = Node()
    payload = pa.array(np.zeros(size, dtype=np.uint8))
    for i in range(messages):
        node.send_output("blob", payload, {"t_ns": time.time_ns(), "seq": i})
        time.sleep(1.0 / hz)


def receive(out: str) -> None:
    from dora import Node

    node = Node()
    with open(out, "w") as f:
        for event in node:
            if event["type"] != "INPUT":
                continue
            now = time.time_ns()
            value = event["value"]
            f.write(json.dumps({"seq": event["metadata"]["seq"], "bytes": len(value),
                                "ms": (now - event["metadata"]["t_ns"]) / 1e6}) + "\n")


def case(size: int, pool: int | None, messages: int, hz: float, work: str) -> list[float]:
    out = os.path.join(work, f"{size}-{pool}.jsonl")
    me = os.path.abspath(__file__)
    pool_line = f"\n    shared_memory_pool_size: {pool}" if pool else ""
    flow = os.path.join(work, f"flow-{size}-{pool}.yml")
    with open(flow, "w") as f:
        f.write(
            f"nodes:\n  - id: sender\n    path: {me}\n    args: send {size} {messages} {hz}"
            f"{pool_line}\n    outputs: [blob]\n"
            f"  - id: receiver\n    path: {me}\n    args: receive {out}\n"
            f"    inputs:\n      blob: {{ source: sender/blob, queue_size: 1000 }}\n"
        )
    subprocess.run(["dora", "run", flow], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == messages, f"{len(rows)} of {messages} received"
    assert all(r["bytes"] == size for r in rows)
    return sorted(r["ms"] for r in rows[10:])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "send":
        send(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "receive":
        receive(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--hz", type=float, default=20.0)
    args = ap.parse_args()
    frame = 1920 * 1600 * 3
    cases = [
        ("4.0 MB, default pool (fits)", 4 * MB, None),
        ("4.0 MB, 64 MB pool", 4 * MB, 64 * 1024 * 1024),
        (f"{frame / MB:.1f} MB, default pool (does not fit)", frame, None),
        (f"{frame / MB:.1f} MB, 64 MB pool (fits)", frame, 64 * 1024 * 1024),
    ]
    print("| message | p50 ms | p90 ms | max ms |\n| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as work:
        for name, size, pool in cases:
            ms = case(size, pool, args.messages, args.hz, work)
            pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
            print(f"| {name} | {pick(0.5):.2f} | {pick(0.9):.2f} | {ms[-1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
