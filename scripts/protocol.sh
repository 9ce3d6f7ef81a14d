#!/usr/bin/env bash
# The benchmark protocol: regenerate the simulator data, train `lite`, evaluate it on held-out
# sequences of the training rooms (new people, new motions) and on rooms never seen in training,
# each beside the CSI-blind baselines (the same model on shuffled CSI; the training set's
# per-room prior), adapt it to the unseen rooms from their unlabelled CSI (MMD on the encoder
# features; LMMD per class of where the people are), and with a few labelled frames of them as
# well (semantic alignment), evaluate again. Then seed 003's GFL student, with and without
# distillation from the trained model, and the temporal module trained on sequences on top of it.
#
#   [CONFIG=models/train/...yaml] scripts/protocol.sh [OUT] [STEPS]   (defaults: lite-sim.yaml, data/protocol, 6000)
#
# Rooms: lab, office, living-room and kitchen train, corridor and bedroom are held out. A room is
# the same room in every sequence (its multipath belongs to its description); the sequence seed
# draws the people (--random-people PEOPLE: count, size, body, what they do and where) and their
# motions. Training: TRAIN_SEQS sequences of TRAIN_S seconds per room (seeds 1000...). Tests:
# TEST_SEQS sequences of TEST_S seconds (seeds 5000...), other people and motions in the same
# rooms; unseen rooms: unlabelled adaptation sequences (seeds 1000...), tests (5000...) and a few
# labelled frames (7000). A step whose output exists is skipped (delete it to redo). Reports:
# OUT/eval-*/report.md; figures: OUT/summary.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/protocol}"
steps="${2:-6000}"
train_seqs="${TRAIN_SEQS:-10}"
train_s="${TRAIN_S:-60}"
test_seqs="${TEST_SEQS:-2}"
test_s="${TEST_S:-30}"
people="${PEOPLE:-1..3}"
every="${EVERY:-5}"
adapt_steps="${ADAPT_STEPS:-600}"
seen=(lab office living-room kitchen)
unseen=(corridor bedroom)
wdp="$root/target/release/wdp"
# The training configuration (relative paths from the repository root, where this runs).
config="${CONFIG:-models/train/lite-sim.yaml}"
cd "$root"
mkdir -p "$out"

sim() { # room seed seconds dir
    [ -f "$4/dataset.json" ] || "$wdp" simulate --scene "$1" --seed "$2" --duration-s "$3" \
        --random-people "$people" --no-rgb --out "$4" > /dev/null
}
seqs() { # split room first-seed count seconds
    for ((i = 0; i < $4; i++)); do
        sim "$2" $(($3 + i)) "$5" "$out/data/$1/$2-$(($3 + i))"
        printf -- '--data\n%s\n' "$out/data/$1/$2-$(($3 + i))"
    done
}
train_data=() seen_test=() unseen_test=() fewshot=() targets=()
for r in "${seen[@]}"; do
    mapfile -t -O "${#train_data[@]}" train_data < <(seqs train "$r" 1000 "$train_seqs" "$train_s")
    mapfile -t -O "${#seen_test[@]}" seen_test < <(seqs test-seen "$r" 5000 "$test_seqs" "$test_s")
done
for r in "${unseen[@]}"; do
    mapfile -t -O "${#targets[@]}" targets < <(seqs adapt "$r" 1000 2 "$train_s" | sed 's/^--data$/--target/')
    mapfile -t -O "${#unseen_test[@]}" unseen_test < <(seqs test-unseen "$r" 5000 "$test_seqs" "$test_s")
    # A few labelled frames of the new room (another sequence): semantic alignment.
    mapfile -t -O "${#fewshot[@]}" fewshot < <(seqs fewshot "$r" 7000 1 "${FEWSHOT_S:-20}")
done
[ "${DATA_ONLY:-0}" = 1 ] && exit 0
# The prior baseline's training rooms: the training folders without the --data flags.
mapfile -t prior < <(printf '%s\n' "${train_data[@]}" | grep -v '^--data$')

model="$out/lite-sim.safetensors"
[ -f "$model" ] || "$wdp" train "${train_data[@]}" --every "$every" --out "$model" --config "$config" --steps "$steps" \
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

evaluate() { # name model-args data...  (model-args: --checkpoint FILE, or --prior DIRS...)
    local name="$1"
    shift
    # COCO AP ranks detections by score: keep the low-scored ones as COCO evaluations do
    # (the deployed nodes use the preset's 0.3). Count and floor figures use the preset's 0.3.
    [ -f "$out/eval-$name/results.json" ] || "$wdp" eval "$@" --score-threshold 0.05 \
        --report "$out/eval-$name" --title "$name" > "$out/eval-$name.json"
}
# The model, the same model on shuffled CSI (each frame gets another frame's window of the same
# room), and the training set's per-room prior (no radio at all), on both test splits.
evaluate seen --checkpoint "$model" "${seen_test[@]}"
evaluate seen-shuffled --checkpoint "$model" --blind shuffle "${seen_test[@]}"
evaluate seen-prior --prior "${prior[@]}" "${seen_test[@]}"
evaluate unseen --checkpoint "$model" "${unseen_test[@]}"
evaluate unseen-shuffled --checkpoint "$model" --blind shuffle "${unseen_test[@]}"
evaluate unseen-prior --prior "${prior[@]}" "${unseen_test[@]}"
evaluate unseen-adapted --checkpoint "$adapted" "${unseen_test[@]}"
evaluate seen-adapted --checkpoint "$adapted" "${seen_test[@]}"
evaluate unseen-adapted-lmmd --checkpoint "$adapted_lmmd" "${unseen_test[@]}"
evaluate unseen-fewshot --checkpoint "$fewshot_model" "${unseen_test[@]}"
evaluate seen-gfl-student --checkpoint "$out/gfl-student.safetensors" "${seen_test[@]}" --preset gfl
evaluate seen-gfl-plain --checkpoint "$out/gfl-plain.safetensors" "${seen_test[@]}" --preset gfl
evaluate seen-temporal --checkpoint "$temporal_model" "${seen_test[@]}" --sequence 8

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
names = ["seen", "seen-shuffled", "seen-prior", "unseen", "unseen-shuffled", "unseen-prior",
         "unseen-adapted", "unseen-adapted-lmmd", "seen-adapted", "unseen-fewshot",
         "seen-gfl-student", "seen-gfl-plain", "seen-temporal"]
summary = {n: json.load(open(f"{out}/eval-{n}.json")) for n in names
           if os.path.exists(f"{out}/eval-{n}.json")}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print("| split | AP | AP50 | AP75 | PCK@0.2 | floor median m | floor p90 m | missed | count acc. | part mIoU | UV error |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
f = lambda v: "n/a" if v is None else f"{100 * v:.1f}"
m = lambda v: "n/a" if v is None else f"{v:.2f}"
for n, s in summary.items():
    k = s.get("keypoints") or {}
    fl = s.get("floor") or {}
    c = s.get("count") or {}
    uv = s.get("uv_error")
    print(f"| {n} | {f(k.get('ap'))} | {f(k.get('ap50'))} | {f(k.get('ap75'))} | {f(s.get('pck'))} | "
          f"{m(fl.get('median_m'))} | {m(fl.get('p90_m'))} | {f(fl.get('miss_rate'))}% | {f(c.get('accuracy'))} | "
          f"{f(s.get('part_miou'))} | {'n/a' if uv is None else f'{uv:.3f}'} |")
PY
