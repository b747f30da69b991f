#!/usr/bin/env bash
# Configures (once) and builds into BUILD_DIR (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" ${MESON_ARGS:-} >/dev/null
fi
ninja -C "$dir" >/dev/null
