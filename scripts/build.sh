#!/usr/bin/env bash
# Configures and builds mpegcast into build/ (RelWithDebInfo). Extra arguments go to the build step,
# e.g. scripts/build.sh --target mpegcast-relay. BUILD_DIR and BUILD_TYPE override the defaults.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
JOBS="${JOBS:-$(nproc)}"

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
cmake --build "$BUILD_DIR" --parallel "$JOBS" "$@"
