#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (unit, integration, browser) with ctest.
# Then the sanitizer pass (scripts/test-sanitize.sh): a second build with ASan + UBSan + LSan in
# ${SANITIZE_BUILD_DIR:-build-asan} and the unit and integration tests again, failing on any sanitizer report
# from any process. MPEGCAST_SKIP_SANITIZE=1 skips that pass (quick local runs; CI runs it). Last, a short run of
# every libFuzzer target (scripts/fuzz.sh, FUZZ_SECONDS each); MPEGCAST_SKIP_FUZZ=1 skips it.
# Exits non-zero if anything fails. Extra arguments go to the first ctest only, e.g. scripts/test.sh -L browser.
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

if [[ "${MPEGCAST_SKIP_SANITIZE:-0}" == 1 ]]; then
  echo "==> sanitizer pass skipped (MPEGCAST_SKIP_SANITIZE=1)" >&2
else
  "$ROOT/scripts/test-sanitize.sh"
fi

# A short run of every fuzz target (libFuzzer, ASan + UBSan): FUZZ_SECONDS each (default 25).
if [[ "${MPEGCAST_SKIP_FUZZ:-0}" == 1 ]]; then
  echo "==> fuzz run skipped (MPEGCAST_SKIP_FUZZ=1)" >&2
else
  "$ROOT/scripts/fuzz.sh"
fi
echo "==> all tests, the sanitizer pass and the fuzz run passed" >&2
