#!/usr/bin/env bash
# The benchmark protocol: regenerate the simulator data, train `lite`, evaluate it on held-out
# sequences of the training rooms and on rooms never seen in training, adapt it to the unseen
# rooms from their unlabelled CSI (MMD on the encoder features; LMMD per class of where the
# people are), and with a few labelled frames of them as well (semantic alignment), evaluate
# again. Then seed 003's GFL student, with and without distillation from the trained model, and
# the temporal module trained on sequences on top of it.
#
#   scripts/protocol.sh [OUT] [STEPS]            (defaults: data/protocol, 6000)
#
# Rooms: lab, office, living-room and kitchen train (seed 101, TRAIN_S seconds each) and are
# tested on other sequences (seed 202, TEST_S seconds); corridor and bedroom are held out:
# unlabelled adaptation data (seed 101) and tests (seed 202). A step whose output exists is
# skipped (delete it to redo). Reports: OUT/eval-*/report.md; figures: OUT/summary.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/protocol}"
steps="${2:-6000}"
train_s="${TRAIN_S:-180}"
test_s="${TEST_S:-60}"
adapt_steps="${ADAPT_STEPS:-600}"
seen=(lab office living-room kitchen)
unseen=(corridor bedroom)
wdp="$root/target/release/wdp"
config="$root/models/train/lite-sim.yaml"
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
    # A few labelled frames of the new room (another sequence): semantic alignment.
    sim "$r" 303 "${FEWSHOT_S:-20}" "$out/data/fewshot/$r"
done
data() { for r in "${@:2}"; do printf -- '--data\n%s\n' "$out/data/$1/$r"; done; }
mapfile -t train_data < <(data train "${seen[@]}")
mapfile -t seen_test < <(data test-seen "${seen[@]}")
mapfile -t unseen_test < <(data test-unseen "${unseen[@]}")
mapfile -t fewshot < <(data fewshot "${unseen[@]}")
mapfile -t targets < <(for r in "${unseen[@]}"; do printf -- '--target\n%s\n' "$out/data/adapt/$r"; done)

model="$out/lite-sim.safetensors"
[ -f "$model" ] || "$wdp" train "${train_data[@]}" --out "$model" --config "$config" --steps "$steps" \
    | tee "$out/train-summary.json"
adapted="$out/lite-sim-adapted.safetensors"
[ -f "$adapted" ] || "$wdp" train "${train_data[@]}" "${targets[@]}" --domain mmd --init "$model" \
    --config "$config" --steps "$adapt_steps" --lr 2e-4 --out "$adapted" | tee "$out/adapt-summary.json"

adapted_lmmd="$out/lite-sim-adapted-lmmd.safetensors"
[ -f "$adapted_lmmd" ] || "$wdp" train "${train_data[@]}" "${targets[@]}" --domain lmmd --init "$model" \
    --config "$config" --steps "$adapt_steps" --lr 2e-4 --out "$adapted_lmmd" | tee "$out/adapt-lmmd-summary.json"

fewshot_model="$out/lite-sim-fewshot.safetensors"
[ -f "$fewshot_model" ] || "$wdp" train "${train_data[@]}" "${fewshot[@]}" "${targets[@]}" --domain mmd \
    --init "$model" --config "$config" --steps "$adapt_steps" --lr 2e-4 --out "$fewshot_model" \
    | tee "$out/fewshot-summary.json"

# Seed 003: a GFL-backbone student, from the trained model's CSI encoder and translation, with
# and without distillation from it (same data, steps and seed).
student_steps="${STUDENT_STEPS:-3000}"
gfl_config="$root/models/train/gfl-distill.yaml"
student() { # name extra-args...
    local ckpt="$out/$1.safetensors"
    shift
    [ -f "$ckpt" ] || "$wdp" train "${train_data[@]}" --every 3 --config "$gfl_config" --steps "$student_steps" \
        --init "$model" --init-stages encoder,upsampler --out "$ckpt" "$@" | tee "${ckpt%.safetensors}-summary.json"
}
student gfl-student --teacher "$model" --teacher-preset lite
student gfl-plain

# The temporal module on sequences of 8 consecutive frames (every frame, as the temporal node
# sees them), everything else left as trained.
temporal_model="$out/lite-sim-temporal.safetensors"
[ -f "$temporal_model" ] || "$wdp" train "${train_data[@]}" --every 1 --config "$config" --sequence 8 \
    --freeze encoder,upsampler,backbone,head --init "$model" --steps "${TEMPORAL_STEPS:-1500}" \
    --out "$temporal_model" | tee "$out/temporal-summary.json"

evaluate() { # name checkpoint data...
    local name="$1" ckpt="$2"
    shift 2
    # COCO AP ranks detections by score: keep the low-scored ones as COCO evaluations do
    # (the deployed nodes use the preset's 0.3).
    [ -f "$out/eval-$name/results.json" ] || "$wdp" eval --checkpoint "$ckpt" "$@" --score-threshold 0.05 \
        --report "$out/eval-$name" --title "$name" > "$out/eval-$name.json"
}
evaluate seen "$model" "${seen_test[@]}"
evaluate unseen "$model" "${unseen_test[@]}"
evaluate unseen-adapted "$adapted" "${unseen_test[@]}"
evaluate seen-adapted "$adapted" "${seen_test[@]}"
evaluate unseen-adapted-lmmd "$adapted_lmmd" "${unseen_test[@]}"
evaluate unseen-fewshot "$fewshot_model" "${unseen_test[@]}"
evaluate seen-gfl-student "$out/gfl-student.safetensors" "${seen_test[@]}" --preset gfl
evaluate seen-gfl-plain "$out/gfl-plain.safetensors" "${seen_test[@]}" --preset gfl
evaluate seen-temporal "$temporal_model" "${seen_test[@]}" --sequence 8

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
names = ["seen", "unseen", "unseen-adapted", "unseen-adapted-lmmd", "seen-adapted", "unseen-fewshot",
         "seen-gfl-student", "seen-gfl-plain", "seen-temporal"]
summary = {n: json.load(open(f"{out}/eval-{n}.json")) for n in names}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print("| split | AP | AP50 | AP75 | AR | PCK@0.2 | part mIoU | UV error |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for n, s in summary.items():
    k = s["keypoints"] or {}
    f = lambda v: "n/a" if v is None else f"{100 * v:.1f}"
    print(f"| {n} | {f(k.get('ap'))} | {f(k.get('ap50'))} | {f(k.get('ap75'))} | {f(k.get('ar'))} | "
          f"{f(s['pck'])} | {f(s['part_miou'])} | {s['uv_error']:.3f} |")
PY
