#!/usr/bin/env bash
# The benchmark protocol: regenerate the simulator data, train `lite`, evaluate it on held-out
# sequences of the training rooms and on rooms never seen in training, adapt it to the unseen
# rooms from their unlabelled CSI, evaluate again. Everything lands in OUT (default data/protocol).
#
#   scripts/protocol.sh [OUT] [STEPS]
#
# Rooms: lab, office, living-room, kitchen train (seed 101, TRAIN_S seconds each) and are tested
# on other sequences (seed 202, TEST_S seconds); corridor and bedroom are held out: unlabelled
# adaptation data (seed 101) and tests (seed 202).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/protocol}"
steps="${2:-1500}"
train_s="${TRAIN_S:-180}"
test_s="${TEST_S:-60}"
adapt_steps="${ADAPT_STEPS:-300}"
seen=(lab office living-room kitchen)
unseen=(corridor bedroom)
wdp="$root/target/release/wdp"
trainer="$root/target/release/wdp-train"
export LD_LIBRARY_PATH="$root/.venv/lib/python3.11/site-packages/torch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"

sim() { # room seed seconds dir
    [ -f "$4/dataset.json" ] || "$wdp" simulate --scene "$1" --seed "$2" --duration-s "$3" --no-rgb --out "$4"
}
for r in "${seen[@]}"; do
    sim "$r" 101 "$train_s" "$out/data/train/$r"
    sim "$r" 202 "$test_s" "$out/data/test-seen/$r"
done
for r in "${unseen[@]}"; do
    sim "$r" 101 "$train_s" "$out/data/adapt/$r"
    sim "$r" 202 "$test_s" "$out/data/test-unseen/$r"
done

args=()
for r in "${seen[@]}"; do args+=(--data "$out/data/train/$r"); done
"$trainer" train "${args[@]}" --out "$out/lite-sim.safetensors" --config "$root/models/train/lite-sim.yaml" \
    --steps "$steps" ${RESUME:+--resume} | tee "$out/train-summary.json"

targets=()
for r in "${unseen[@]}"; do targets+=(--target "$out/data/adapt/$r"); done
"$trainer" train "${args[@]}" "${targets[@]}" --domain mmd --init "$out/lite-sim.safetensors" \
    --config "$root/models/train/lite-sim.yaml" --steps "$adapt_steps" --lr 2e-4 \
    --out "$out/lite-sim-adapted.safetensors" | tee "$out/adapt-summary.json"
