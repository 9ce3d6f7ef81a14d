#!/usr/bin/env bash
# Takes a fresh machine to ready: the project's Python venv (pinned dora CLI, torch for libtorch,
# the Python node dependencies) and a release build of the tool and every node.
# Idempotent and fast when nothing changed. Needs: python3 (3.11), cargo, network to the registries.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

DORA_VERSION="1.1.0"
TORCH_VERSION="2.13.0"
venv="${WDP_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

step() { printf '\n== %s\n' "$*"; }

# apt_install_missing PACKAGE BINARY: installs a Debian package unless its command is on PATH
# or at BINARY already; as root, or through sudo.
apt_install_missing() {
    if command -v "$1" > /dev/null 2>&1 || [ -x "$2" ]; then
        echo "present"
        return
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo > /dev/null 2>&1; then
            sudo="sudo"
        else
            echo "error: $1 is missing and installing it needs root or sudo: apt-get install -y $1" >&2
            exit 1
        fi
    fi
    # A fresh image may have no package lists yet.
    $sudo apt-get install -y "$1" || { $sudo apt-get update && $sudo apt-get install -y "$1"; }
}

# Build output lives outside the clone when CARGO_TARGET_DIR says so (CI keeps one warm target
# across clones); ./target always points at it, because the dataflows name the node binaries
# relative to themselves (../target/release/NODE).
target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [ "$target_dir" != "$root/target" ]; then
    mkdir -p "$target_dir"
    if [ -e "$root/target" ] && [ ! -L "$root/target" ]; then
        echo "error: $root/target is a folder but CARGO_TARGET_DIR is $target_dir; remove one" >&2
        exit 1
    fi
    ln -sfn "$target_dir" "$root/target"
fi

step "python venv ($venv)"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
stamp="$venv/.wdp-requirements"
wanted="dora-rs-cli==$DORA_VERSION dora-rs==$DORA_VERSION torch==$TORCH_VERSION $(tr '\n' ' ' < "$root/scripts/requirements.txt")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet $wanted
    echo "$wanted" > "$stamp"
else
    echo "up to date"
fi

# The camera and the MediaPipe teacher (nodes/camera-py, nodes/teacher-mediapipe) get a venv of
# their own: mediapipe 0.10.21 (the last release whose wheel carries the BlazePose weights, so it
# runs offline) pins numpy below 2, which the main venv's torch does not want. OpenCV (video files,
# V4L2 cameras, the test video's writer) comes with mediapipe; scikit-image ships the photo the
# teacher test video is made from; pyarrow 22 and later need numpy 2.
teacher_venv="$root/.venv-teacher"
step "teacher venv ($teacher_venv)"
if [ ! -x "$teacher_venv/bin/python" ]; then
    "$python" -m venv "$teacher_venv"
fi
teacher_stamp="$teacher_venv/.wdp-requirements"
teacher_wanted="mediapipe==0.10.21 numpy<2 pyarrow==21.0.0 dora-rs==$DORA_VERSION scikit-image"
if [ "$(cat "$teacher_stamp" 2>/dev/null)" != "$teacher_wanted" ]; then
    "$teacher_venv/bin/python" -m pip install --quiet --upgrade pip
    # shellcheck disable=SC2086
    "$teacher_venv/bin/python" -m pip install --quiet $teacher_wanted
    echo "$teacher_wanted" > "$teacher_stamp"
else
    echo "up to date"
fi

step "cargo-fuzz (the capture readers' fuzz targets)"
if ! cargo fuzz --version > /dev/null 2>&1; then
    cargo install cargo-fuzz --locked
else
    cargo fuzz --version
fi

step "mosquitto (the MQTT broker the home dataflow's test starts)"
# The Debian package puts it in /usr/sbin, which a user's PATH may lack.
apt_install_missing mosquitto /usr/sbin/mosquitto

step "chromium (the headless browser the web view's test drives)"
apt_install_missing chromium /usr/bin/chromium

step "release build"
# tch finds libtorch inside the torch wheel (no download at build time).
export LIBTORCH_USE_PYTORCH=1
export PATH="$venv/bin:$PATH"
# All targets, so that the tests and benches reuse this build: cargo resolves dependency features
# per invocation, and a bins-only build would compile the dora/zenoh stack a second time.
cargo build --release --workspace --all-targets

step "check"
"$root/target/release/wdp" doctor
