#!/usr/bin/env bash
# Training throughput on this CPU: the Rust training step (tch) and the same step in PyTorch
# eager, in the same run, same batch and threads. Prints two JSON lines (Rust, then PyTorch).
#   scripts/bench_train.sh [STEPS] [BATCH] [THREADS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
steps="${1:-30}" batch="${2:-8}" threads="${3:-2}"
export LIBTORCH_USE_PYTORCH=1
export LD_LIBRARY_PATH="$root/.venv/lib/python3.11/site-packages/torch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$root/.venv/bin:$PATH"
rust="$(cd "$root" && cargo run --release -q -p wdp-train --example train_step -- "$steps" "$batch" "$threads")"
echo "$rust"
people="$(python -c "import json,sys; print(json.loads(sys.argv[1])['people_in_batch'])" "$rust")"
python "$root/scripts/bench_train_pytorch.py" --steps "$steps" --batch "$batch" --people "$people" --threads "$threads"
