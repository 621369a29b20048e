#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (unit, integration, browser) with ctest.
# Exits non-zero if anything fails. Extra arguments go to ctest, e.g. scripts/test.sh -L browser.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR

"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"

status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 "$@" || status=$?
if ((status != 0)); then
  echo "==> tests FAILED (ctest exit status $status)" >&2
  echo "==> ctest log: $BUILD_DIR/Testing/Temporary/LastTest.log" >&2
  if [[ -d "$BUILD_DIR/test-artifacts" ]]; then
    echo "==> test artifacts (process logs, screenshots): $BUILD_DIR/test-artifacts" >&2
  fi
  exit "$status"
fi
echo "==> all tests passed" >&2
