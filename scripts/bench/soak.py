#!/usr/bin/env python3
"""Soak: the main job (dataflows/inference.yml as shipped: the simulated living room at real
time, pictures written) for a long run, watched from outside.

    .venv/bin/python scripts/bench/soak.py [--minutes 60] [--bucket-min 5] [--every-s 10]

While it runs: every node's resident memory and CPU seconds every `--every-s` seconds, from
/proc. After it: per `--bucket-min` minutes of capture time, the frames that reached the sink
(20 a second offered), and the end-to-end latency of each (csi-preprocess received to temporal
sent, from the `trace_ns` the pose-sink's recording keeps of every frame), p50/p99; every
node's stop line (messages handled and dropped). Memory is flat when the last bucket's
resident memory is within a few MB of the first's. Needs Linux, the release binaries and the
venv's dora CLI. Writes out/soak/soak.json (and the run's outputs beside it) and prints
Markdown tables.
"""

import argparse
import glob
import json
import math
import os
import re
import subprocess
import sys
import time

import pyarrow as pa
import yaml

import dataflows
import procs

ROOT = dataflows.ROOT
DORA = os.path.join(ROOT, ".venv", "bin", "dora")
NODES = ["csi-source", "csi-locate", "csi-preprocess", "encoder", "upsampler", "densepose",
         "temporal", "pose-sink"]


def percentile(xs: list, q: float) -> float:
    """Nearest rank: the ceil(q * n)-th smallest."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def run(args, run_dir: str, log_path: str) -> tuple:
    """Runs the soak; returns the /proc samples and the dora log."""
    doc = dataflows.load("inference.yml")
    for node in doc["nodes"]:
        if node["id"] == "csi-source":
            node["env"]["DURATION_S"] = str(args.minutes * 60)
        if node["id"] == "pose-sink":
            node["env"]["OUT_DIR"] = run_dir
    flow = os.path.join(args.out, "inference-soak.yml")
    with open(flow, "w") as f:
        yaml.safe_dump(doc, f)

    env = {**os.environ, "PATH": os.path.dirname(DORA) + os.pathsep + os.environ.get("PATH", "")}
    samples = []  # (elapsed s, {node: (cpu s, rss MB)})
    start = time.time()
    with open(log_path, "w") as log:
        # A bound for a run that hangs: twice the simulation and ten minutes.
        dora = subprocess.Popen([DORA, "run", flow, "--stop-after", f"{int(args.minutes * 120 + 600)}s"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=args.out, env=env)
        try:
            while dora.poll() is None:
                by_node = {}
                for name, cpu, rss in procs.descendants([dora.pid]).values():
                    if name in NODES:
                        by_node[name] = (cpu, rss)
                samples.append((time.time() - start, by_node))
                print(f"\r{(time.time() - start) / 60:5.1f} min", end="", file=sys.stderr, flush=True)
                deadline = time.time() + args.every_s
                while dora.poll() is None and time.time() < deadline:
                    time.sleep(0.5)
        finally:
            if dora.poll() is None:
                dora.kill()
                dora.wait()
    print(file=sys.stderr)
    with open(log_path) as f:
        text = f.read()
    if dora.returncode != 0:
        sys.exit(f"the dataflow failed:\n{text[-3000:]}")

    return samples, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--bucket-min", type=float, default=5.0)
    ap.add_argument("--every-s", type=float, default=10.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "soak"))
    ap.add_argument("--report-only", action="store_true",
                    help="no run: the tables again from the last run's soak.json and recordings (same --minutes)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    run_dir = os.path.join(args.out, "run")
    log_path = os.path.join(args.out, "dora.log")
    if args.report_only:
        with open(os.path.join(args.out, "soak.json")) as f:
            samples = [(t, {n: tuple(v) for n, v in s.items()}) for t, s in json.load(f)["samples"]]
        with open(log_path) as f:
            text = f.read()
    else:
        samples, text = run(args, run_dir, log_path)

    # Every frame's trace, from the sink's recording of its boxes.
    frames = []  # (first trace ns, end-to-end ms)
    for path in sorted(glob.glob(os.path.join(run_dir, "arrow", "boxes", "*.arrow"))):
        table = pa.ipc.open_file(path).read_all()
        for meta in table.column("meta").to_pylist():
            trace = json.loads(meta).get("trace_ns") or []
            if len(trace) >= 2:
                frames.append((trace[0], (trace[-1] - trace[0]) / 1e6))
    if not frames:
        sys.exit("no frame with a latency trace in the sink's recording")
    t0 = min(t for t, _ in frames)
    bucket_ns = args.bucket_min * 60e9
    buckets = {}
    for t, ms in frames:
        buckets.setdefault(int((t - t0) // bucket_ns), []).append(ms)

    def memory_at(minute: float) -> dict:
        """Each node's resident MB at the sample nearest `minute` of the run."""
        s = min(samples, key=lambda x: abs(x[0] - minute * 60))
        return {n: v[1] for n, v in s[1].items()}

    rows = []
    for b in sorted(buckets):
        lat = buckets[b]
        end_min = min((b + 1) * args.bucket_min, args.minutes)
        rows.append({
            "minutes": [b * args.bucket_min, end_min],
            "frames": len(lat),
            "fps": len(lat) / ((end_min - b * args.bucket_min) * 60),
            "p50_ms": percentile(lat, 0.50),
            "p99_ms": percentile(lat, 0.99),
            "rss_mb": memory_at(end_min),
        })
    stops = [line.strip() for line in text.splitlines()
             if re.search(r"messages handled|loss \d|frames/s", line)]
    cpu_s = {n: v[0] for n, v in samples[-1][1].items()} if samples else {}
    result = {"minutes": args.minutes, "buckets": rows, "stop_lines": stops, "cpu_s": cpu_s,
              "samples": [[t, {n: list(v) for n, v in s.items()}] for t, s in samples]}
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump(result, f, indent=1)

    print("| minutes | frames | frames/s | end to end p50 / p99 ms |")
    print("| --- | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['minutes'][0]:.0f}-{r['minutes'][1]:.0f} | {r['frames']} | {r['fps']:.1f} | "
              f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} |")
    print()
    print("| resident MB | " + " | ".join(NODES) + " |")
    print("| --- |" + " ---: |" * len(NODES))
    first_min = min(1.0, args.minutes)
    for label, minute in [(f"at {first_min:.0f} min", first_min)] + \
            [(f"at {r['minutes'][1]:.0f} min", r["minutes"][1]) for r in rows]:
        mem = memory_at(minute)
        print(f"| {label} | " + " | ".join(f"{mem.get(n, float('nan')):.0f}" for n in NODES) + " |")
    print()
    for line in stops:
        print(f"    {line}")


if __name__ == "__main__":
    main()
