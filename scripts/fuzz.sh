#!/usr/bin/env bash
# Runs every fuzz target (the capture readers, the building description and its dataflow, the
# simulator's scenes, the preprocessing configuration with its packets) for SECONDS each
# (default 10) with cargo-fuzz, each seeded with the project's own files of its kind. A crash
# is kept under fuzz/artifacts/TARGET/ (reproduce it with `cargo fuzz run TARGET FILE`) and
# makes the script fail. For a scheduled long run (not CI), e.g. nightly from cron:
#   scripts/fuzz.sh 600        # 10 minutes per target
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain provide them.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"
seconds="${1:-10}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
target_dir="${CARGO_TARGET_DIR:-$root/fuzz/target}/fuzz"
# The files each target starts from: valid inputs of its kind.
seed() {
    local t="$1" corpus="$2"
    case "$t" in
        building) cp "$root"/dataflows/*.rooms.yaml "$corpus/" ;;
        scene) cp "$root"/operators/wdp-sim/scenes/*.yaml "$corpus/" ;;
        preprocess) cp "$root"/models/preprocess/*.yaml "$root"/models/weights/*.preprocess.yaml "$corpus/" ;;
        # The capture readers: the real captures.
        *) find "$root/../shared/data/captures" -type f ! -name '*.json' -exec cp {} "$corpus/" \; 2>/dev/null || true ;;
    esac
}
for t in "${targets[@]}"; do
    corpus="$(mktemp -d)"
    seed "$t" "$corpus"
    echo "== fuzz $t (${seconds}s)"
    log="$corpus.log"
    status=0
    cargo fuzz run --target-dir "$target_dir" "$t" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        > "$log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
    rm -rf "$corpus"
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
        echo "fuzz target $t failed (exit $status)" >&2
        exit "$status"
    fi
    rm -f "$log"
done
