#!/usr/bin/env bash
# The preprocessing ablation: how well a linear probe finds one person's mid-hip pixel from the
# model's input windows, per preprocessing in models/preprocess/, beside the position mean and
# the probe fitted on shuffled CSI (models/wdp-train/examples/probe.rs).
#
#   scripts/probe.sh [OUT]          (default data/probe)
#
# Data: the lab preset (one person wandering over the floor), a training sequence (seed 11,
# TRAIN_S seconds) and a test sequence with other walks (seed 22, TEST_S seconds): the same
# room's static multipath and the same body in both (they belong to the room and the person).
# Other rooms: ROOMS="lab kitchen" with --random-people 1..1 drawn per sequence (a person who
# stands still in the training sequence teaches a probe nothing about other places).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/probe}"
train_s="${TRAIN_S:-120}"
test_s="${TEST_S:-60}"
read -r -a rooms <<< "${ROOMS:-lab}"
wdp="$root/target/release/wdp"
mkdir -p "$out"
sim() { # room seed seconds dir
    local people=()
    [ "$1" = lab ] || people=(--random-people 1..1)
    [ -f "$4/dataset.json" ] || "$wdp" simulate --scene "$1" --seed "$2" --duration-s "$3" \
        "${people[@]}" --no-rgb --no-uv --out "$4" > /dev/null
}
args=()
for r in "${rooms[@]}"; do
    sim "$r" 11 "$train_s" "$out/train/$r"
    sim "$r" 22 "$test_s" "$out/test/$r"
    args+=(--train "$out/train/$r" --test "$out/test/$r")
done
for p in "$root"/models/preprocess/*.yaml; do
    args+=(--preprocess "$p")
done
cd "$root"
export LIBTORCH_USE_PYTORCH=1
cargo run --release -q -p wdp-train --example probe -- "${args[@]}" | tee "$out/probe.md"
