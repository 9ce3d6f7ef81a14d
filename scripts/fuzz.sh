#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 10) with cargo-fuzz, each seeded with the
# project's own files of its kind. Two cargo-fuzz projects:
#   fuzz/         the capture readers (intel, atheros, nexmon, esp32, picoscenes), the building
#                 description and its dataflow (building), the simulator's scenes (scene), the
#                 preprocessing configuration with its packets (preprocess); address sanitizer
#   fuzz/models/  the model presets (preset) and the training configuration (train_config);
#                 they link libtorch, which has no sanitizer build, so they run without one
# FUZZ_PROJECTS picks the projects (default both; CI runs `fuzz` only, the models' build is
# long). A crash is kept under PROJECT/artifacts/TARGET/ (reproduce it with
# `cargo fuzz run [--fuzz-dir fuzz/models -s none] TARGET FILE`) and makes the script fail.
# For a scheduled long run (not CI), e.g. nightly from cron:
#   scripts/fuzz.sh 600        # 10 minutes per target
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain provide them.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-10}"
shift || true
export RUSTC_BOOTSTRAP=1
base="${CARGO_TARGET_DIR:-$root/fuzz/target}"
projects=(${FUZZ_PROJECTS:-fuzz fuzz/models})
# libtorch for the model targets comes from the torch wheel, as for the tests.
venv="${WDP_VENV:-$root/.venv}"
if [[ " ${projects[*]} " == *" fuzz/models "* ]]; then
    export LIBTORCH_USE_PYTORCH=1
    torch_lib="$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
    export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# How to run a project's targets: its folder, target folder and sanitizer.
fuzz_args() {
    case "$1" in
        fuzz/models) echo "--fuzz-dir $root/fuzz/models --target-dir $base/fuzz-models -s none" ;;
        *) echo "--fuzz-dir $root/fuzz --target-dir $base/fuzz" ;;
    esac
}

# The files each target starts from: valid inputs of its kind.
seed() {
    local t="$1" corpus="$2"
    case "$t" in
        building) cp "$root"/dataflows/*.rooms.yaml "$corpus/" ;;
        scene) cp "$root"/operators/wdp-sim/scenes/*.yaml "$corpus/" ;;
        preprocess) cp "$root"/models/preprocess/*.yaml "$root"/models/weights/*.preprocess.yaml "$corpus/" ;;
        train_config) cp "$root"/models/train/*.yaml "$corpus/" ;;
        # Three bytes of input dims (9 antenna pairs, 30 subcarriers, a 50-packet window), then
        # the preset.
        preset)
            for p in "$root"/models/presets/*.yaml; do
                { printf '\x08\x1d\x2e'; cat "$p"; } > "$corpus/$(basename "$p")"
            done ;;
        # The capture readers: the real captures.
        *) find "$root/../shared/data/captures" -type f ! -name '*.json' -exec cp {} "$corpus/" \; 2>/dev/null || true ;;
    esac
}

for project in "${projects[@]}"; do
    mapfile -t available < <(cargo fuzz list --fuzz-dir "$root/$project")
    for t in "${available[@]}"; do
        if [ $# -gt 0 ] && [[ " $* " != *" $t "* ]]; then
            continue
        fi
        corpus="$(mktemp -d)"
        seed "$t" "$corpus"
        echo "== fuzz $t (${seconds}s)"
        log="$corpus.log"
        status=0
        # shellcheck disable=SC2046
        cargo fuzz run $(fuzz_args "$project") "$t" "$corpus" -- \
            -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=30 \
            -print_final_stats=1 > "$log" 2>&1 || status=$?
        grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
        rm -rf "$corpus"
        if [ "$status" -ne 0 ]; then
            tail -40 "$log" >&2
            echo "fuzz target $t failed (exit $status)" >&2
            exit "$status"
        fi
        rm -f "$log"
    done
done
