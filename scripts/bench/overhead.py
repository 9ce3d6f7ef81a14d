#!/usr/bin/env python3
"""What watching costs the main job: end-to-end latency (p50/p99), frames/s and CPU of
dataflows/inference.yml as shipped, beside the same with the web view
(dataflows/inference-web.yml) without a browser and with a headless Chromium showing the page,
and with OpenTelemetry export on (every node's spans and metrics to an OTLP receiver, every
trace or one in ten sampled), back to
back in one invocation (rounds alternate the configurations so that a slower stretch of the
machine hits all of them).

    .venv/bin/python scripts/bench/overhead.py [--seconds 60] [--rounds 2] [--configs off,tracing]

Each run simulates `--seconds` of the living room in real time (100 packets/s, 20 frames/s
offered), as the dataflows ship (camera frames rendered, pose-sink writing its pictures); the
figures are the pose-sink's latency.json (latency trace: csi-preprocess received to pose-sink
received). The CPU time of the dataflow's processes (every node, and the browser's processes)
is sampled from /proc while it runs. With a browser, the web view's stop line gives the states
it sent and the frames a slow browser skipped. With tracing, the receiver is the project's
(`target/release/examples/otlp_receiver`, its CPU not counted: a collector runs elsewhere) and
the spans it received are counted. Needs Linux, the release binaries and examples, the venv's
dora CLI and /usr/bin/chromium. Writes out/bench/overhead.json and prints a Markdown table.
"""


import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import yaml

import dataflows
import procs

ROOT = dataflows.ROOT
DORA = os.path.join(ROOT, ".venv", "bin", "dora")
CHROMIUM = "/usr/bin/chromium"
RECEIVER = os.path.join(ROOT, "target", "release", "examples", "otlp_receiver")


def prepare(flow: str, work: str, seconds: float, out: str, tag: str) -> str:
    """A copy of a real dataflow with absolute paths, a bounded simulation and its own output."""
    doc = dataflows.load(flow)
    for node in doc["nodes"]:
        env = node["env"]
        if node["id"] == "csi-source":
            env["DURATION_S"] = str(seconds)
        if node["id"] == "pose-sink":
            env["OUT_DIR"] = out
        if node["id"] == "web-view":
            env["PORT"] = "0"
    path = os.path.join(work, f"{tag}.yml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    return path


def sample(cpu: dict, roots: list) -> None:
    """Notes the CPU time of every descendant of `roots` (by pid: the last value seen)."""
    for pid, (name, seconds, _rss) in procs.descendants(roots).items():
        cpu[pid] = (name, seconds)


def start_receiver(out: str) -> tuple:
    """The project's OTLP receiver on a free port writing `out`; returns it and its endpoint."""
    receiver = subprocess.Popen([RECEIVER, "--listen", "127.0.0.1:0", "--out", out],
                                stdout=subprocess.PIPE, text=True)
    line = receiver.stdout.readline().strip()
    if not line.startswith("listening on "):
        sys.exit(f"the OTLP receiver did not start: {line!r}")
    return receiver, line.removeprefix("listening on ")


def run(flow_path: str, seconds: float, browser: bool, work: str, endpoint=None,
        tracing_env=None) -> tuple:
    """Runs the dataflow to its end (the simulation's length), exporting to `endpoint` when
    given (with `tracing_env`: the sampler's settings); returns its log and the CPU seconds of
    its processes by name (`browser` for Chromium's)."""
    log_path = flow_path + ".log"
    env = {**os.environ, "PATH": os.path.dirname(DORA) + os.pathsep + os.environ.get("PATH", "")}
    env.pop("DORA_OTLP_ENDPOINT", None)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    for key in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        env.pop(key, None)
    if endpoint:
        env["DORA_OTLP_ENDPOINT"] = endpoint
        env.update(tracing_env or {})
    chromium = None
    cpu, browser_cpu = {}, {}
    with open(log_path, "w") as log:
        # A bound for a run that hangs: a loaded machine drains its queues slowly.
        dora = subprocess.Popen([DORA, "run", flow_path, "--stop-after", f"{int(seconds) + 1800}s"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env)
        try:
            if browser:
                url = None
                while url is None and dora.poll() is None:
                    with open(log_path) as f:
                        m = re.search(r"web view: (http://\S+)", f.read())
                    url = m.group(1) if m else None
                    time.sleep(0.2)
                if url is None:
                    sys.exit(f"no web view address:\n{open(log_path).read()[-3000:]}")
                profile = tempfile.mkdtemp(dir=work)
                chromium = subprocess.Popen(
                    [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                     "--no-first-run", "--disable-background-networking",
                     "--remote-debugging-port=0", f"--user-data-dir={profile}",
                     "--window-size=1100,860", url],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while dora.poll() is None:
                sample(cpu, [dora.pid])
                if chromium is not None:
                    sample(browser_cpu, [chromium.pid])
                time.sleep(0.5)
        finally:
            if chromium is not None:
                chromium.kill()
                chromium.wait()
            if dora.poll() is None:
                dora.kill()
                dora.wait()
    with open(log_path) as f:
        text = f.read()
    if dora.returncode != 0:
        sys.exit(f"{flow_path} failed:\n{text[-3000:]}")
    by_name = {}
    for name, secs in cpu.values():
        by_name[name] = by_name.get(name, 0.0) + secs
    if browser_cpu:
        by_name["browser"] = sum(secs for _, secs in browser_cpu.values())
    return text, by_name


# (name, dataflow, browser, tracing: None for off, else the sampler's environment)
SAMPLE_10 = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
CONFIGS = [("off", "inference.yml", False, None),
           ("web view", "inference-web.yml", False, None),
           ("web view + browser", "inference-web.yml", True, None),
           ("tracing", "inference.yml", False, {}),
           ("tracing 10%", "inference.yml", False, SAMPLE_10)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="simulated seconds per run")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--configs", default=",".join(c[0] for c in CONFIGS),
                    help="comma-separated: " + ", ".join(c[0] for c in CONFIGS))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench", "overhead.json"))
    args = ap.parse_args()
    wanted = [c.strip() for c in args.configs.split(",")]
    unknown = [c for c in wanted if c not in [name for name, *_ in CONFIGS]]
    if unknown:
        sys.exit(f"unknown configurations {unknown}")
    configs = [c for c in CONFIGS if c[0] in wanted]
    results = {name: [] for name, *_ in configs}
    with tempfile.TemporaryDirectory() as work:
        for r in range(args.rounds):
            for i, (name, flow, browser, tracing) in enumerate(configs):
                tag = f"r{r}-c{i}"
                out = os.path.join(work, f"out-{tag}")
                path = prepare(flow, work, args.seconds, out, tag)
                print(f"round {r + 1}: {name} ...", file=sys.stderr, flush=True)
                receiver, endpoint, spans_path = None, None, os.path.join(work, f"{tag}.otlp.jsonl")
                if tracing is not None:
                    receiver, endpoint = start_receiver(spans_path)
                try:
                    log, cpu = run(path, args.seconds, browser, work, endpoint, tracing)
                finally:
                    if receiver is not None:
                        receiver.kill()
                        receiver.wait()
                spans = None
                if tracing is not None:
                    with open(spans_path) as f:
                        spans = sum(1 for line in f if '"metric"' not in line)
                with open(os.path.join(out, "latency.json")) as f:
                    lat = json.load(f)
                summary = next((l.strip() for l in log.splitlines()
                                if "browser connections" in l), None)
                results[name].append({"latency": lat, "web_view": summary, "cpu_s": cpu,
                                      "spans": spans})
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print("| inference.yml | end to end p50 / p99 ms (per round) | frames/s at the sink | frames | "
          "CPU s: all nodes | CPU s: web-view | CPU s: browser | spans exported |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        e2e = ", ".join(f"{x['latency']['end_to_end']['p50_ms']:.1f} / "
                        f"{x['latency']['end_to_end']['p99_ms']:.1f}" for x in runs)
        fps = ", ".join(f"{x['latency']['throughput_fps']:.1f}" for x in runs)
        frames = ", ".join(str(x["latency"]["frames"]) for x in runs)
        nodes = ", ".join(f"{sum(v for k, v in x['cpu_s'].items() if k != 'browser'):.1f}"
                          for x in runs)
        web = ", ".join(f"{x['cpu_s'].get('web-view', 0.0):.2f}" for x in runs)
        brw = ", ".join(f"{x['cpu_s'].get('browser', 0.0):.1f}" for x in runs)
        spans = ", ".join("-" if x["spans"] is None else str(x["spans"]) for x in runs)
        print(f"| {name} | {e2e} | {fps} | {frames} | {nodes} | {web} | {brw} | {spans} |")
    for x in results.get("web view + browser", []):
        print(x["web_view"])


if __name__ == "__main__":
    main()
