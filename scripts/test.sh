#!/usr/bin/env bash
# What CI runs: formatting, lints, every test (unit, property, reader-vs-reference, node) and the
# end-to-end tests that run real dataflows with the dora CLI. Run scripts/setup.sh first.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${WDP_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/dora" ]; then
    echo "error: $venv/bin/dora missing: run scripts/setup.sh first" >&2
    exit 1
fi
export PATH="$venv/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export WDP_PYTHON="$venv/bin/python"
# libtorch comes from the torch wheel: tch-based tests and nodes load it from there.
torch_lib="$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --release --workspace --all-targets -- -D warnings

echo "== dataflows validate (wiring and the ports' types, strict)"
for flow in dataflows/*.yml; do
    dora validate --strict-types "$flow" > /dev/null || { echo "invalid dataflow: $flow" >&2; exit 1; }
done

echo "== cargo test (unit, property, reference, end-to-end)"
# The end-to-end tests run the release node binaries, so the tests are built in release too
# (one build serves both). Their dataflows run one at a time.
cargo build --release --workspace --all-targets
cargo test --release --workspace --no-fail-fast -- --test-threads=2

echo "== fuzz the capture readers, the building, scene and preprocessing parsers briefly"
# scripts/fuzz.sh SECONDS for longer runs; the model targets (presets, training configuration)
# link libtorch and take minutes to build, so they run there, not here.
FUZZ_PROJECTS=fuzz scripts/fuzz.sh "${WDP_FUZZ_SECONDS:-8}"
