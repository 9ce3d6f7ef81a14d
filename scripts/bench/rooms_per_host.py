#!/usr/bin/env python3
"""How many rooms one machine serves: `wdp building --rooms N --machines 0` (every room's
simulator, preprocessing, `lite-floor` model and tracking, and room-fusion, on this machine)
run for N = 1, 2, ... back to back; per N each room's end-to-end latency p50/p99 (room-fusion's
stop line: from csi-preprocess receiving the packet that completed a window to room-fusion
receiving the pose), the pose frames per second that reached room-fusion, and the CPU seconds of
the dataflow's processes by kind, sampled from /proc.

    .venv/bin/python scripts/bench/rooms_per_host.py [--rooms 1,2,3,4] [--seconds 40]

Each room simulates `--seconds` of its scene in real time (100 packets/s, 20 frames/s offered;
the latency covers the whole run, its start included). The
simulators run on the same machine: a compute host fed by real radios (the CSI split of
docs/BUILDING.md) does not pay for them, so the per-kind CPU says what a compute host alone
would carry. Needs Linux, the release binaries and the venv's dora CLI. Writes
out/bench/rooms_per_host.json and prints a Markdown table.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import yaml

import dataflows
import procs

ROOT = dataflows.ROOT

DORA = os.path.join(ROOT, ".venv", "bin", "dora")
WDP = os.path.join(ROOT, "target", "release", "wdp")


def building(rooms: int, seconds: float, work: str) -> str:
    """The generated one-machine building with absolute paths and bounded simulations."""
    raw = os.path.join(work, f"rooms-{rooms}.gen.yml")
    subprocess.run([WDP, "building", "--rooms", str(rooms), "--machines", "0", "-o", raw],
                   check=True, stdout=subprocess.DEVNULL)
    with open(raw) as f:
        doc = yaml.safe_load(f)
    # The generator writes paths relative to the project's dataflows folder.
    dataflows.absolute(doc, os.path.join(ROOT, "dataflows"))
    for node in doc["nodes"]:
        env = node["env"]
        if env.get("MODE") == "sim":
            env["DURATION_S"] = str(seconds)
        if node["id"] == "room-fusion":
            env["OUT_FILE"] = os.path.join(work, f"rooms-{rooms}.jsonl")
    path = os.path.join(work, f"rooms-{rooms}.yml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    return path


def kind(name: str) -> str:
    """A process's share of the work: the node kinds of a room, room-fusion, or dora."""
    for k in ("csi-source", "csi-preprocess", "densepose-fused", "temporal", "room-fusion"):
        if name.startswith(k[:15]):
            return k
    return "dora"


def run(path: str, rooms: int, work: str) -> tuple:
    """Runs the dataflow until every room's tracking node has finished (its simulator ended and
    the queues drained), then stops it (room-fusion, on a timer, would run on); its wall time
    and CPU seconds by kind."""
    env = {**os.environ, "PATH": os.path.dirname(DORA) + os.pathsep + os.environ.get("PATH", "")}
    cpu = {}
    start = time.monotonic()
    log_path = path + ".log"
    with open(log_path, "w") as log:
        dora = subprocess.Popen([DORA, "run", path, "--stop-after", "1800s"], stdout=log,
                                stderr=subprocess.STDOUT, cwd=work, env=env)
        stopping = False
        while dora.poll() is None:
            for pid, (name, seconds, _rss) in procs.descendants([dora.pid]).items():
                cpu[pid] = (name, seconds)
            if not stopping:
                with open(log_path) as f:
                    done = f.read().count("-temporal finished successfully")
                if done >= rooms:
                    dora.send_signal(signal.SIGINT)
                    stopping = True
            time.sleep(0.5)
    wall = time.monotonic() - start
    if dora.returncode != 0:
        sys.exit(f"{path} failed:\n{open(path + '.log').read()[-3000:]}")
    by_kind = {}
    for name, seconds in cpu.values():
        by_kind[kind(name)] = by_kind.get(kind(name), 0.0) + seconds
    return wall, by_kind


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rooms", default="1,2,3,4", help="room counts to run, comma-separated")
    p.add_argument("--seconds", type=float, default=40.0, help="simulated seconds per room")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="rooms-per-host-")
    results = []
    for n in [int(r) for r in args.rooms.split(",")]:
        path = building(n, args.seconds, work)
        wall, cpu = run(path, n, work)
        with open(os.path.join(work, f"rooms-{n}.jsonl")) as f:
            last = [json.loads(line) for line in f if line.strip()][-1]
        latency = last.get("latency")
        if latency is None:
            sys.exit(f"no latency line from room-fusion in {n} rooms' run")
        results.append({"rooms": n, "seconds": args.seconds, "wall_s": wall, "latency": latency,
                        "cpu_s": cpu})
        print(f"{n} rooms: {json.dumps(latency)} cpu {json.dumps({k: round(v, 1) for k, v in cpu.items()})}",
              file=sys.stderr)
    out = os.path.join(ROOT, "out", "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "rooms_per_host.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("| rooms | room | frames/s | p50 ms | p99 ms | CPU s per simulated s: simulators / preprocess / model / temporal / room-fusion / dora |")
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for r in results:
        c = r["cpu_s"]
        share = " / ".join(f"{c.get(k, 0.0) / r['seconds']:.2f}" for k in
                           ("csi-source", "csi-preprocess", "densepose-fused", "temporal", "room-fusion", "dora"))
        for i, (room, l) in enumerate(sorted(r["latency"].items())):
            print(f"| {r['rooms'] if i == 0 else ''} | {room} | {l['frames'] / r['seconds']:.1f} | "
                  f"{l['p50_ms']:.1f} | {l['p99_ms']:.1f} | {share if i == 0 else ''} |")


if __name__ == "__main__":
    main()
