#!/usr/bin/env bash
# The sanitizer pass: builds mpegcast with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on)
# into ${SANITIZE_BUILD_DIR:-build-asan} (-DMPEGCAST_SANITIZE=ON, no bench) and runs the `unit` and
# `integration` tests there (not the browser test). Every sanitized process, including the relays and
# capture agents the integration tests start, writes its reports to $SANITIZE_BUILD_DIR/sanitizer-reports/
# (one file per pid); the pass fails, and prints them, when any file appears or a test fails.
# Third-party leaks are suppressed by tests/sanitizers/lsan.supp. scripts/test.sh runs this after the normal
# tests (MPEGCAST_SKIP_SANITIZE=1 skips it there); run it alone to get only this pass. Extra arguments go to
# ctest, e.g. scripts/test-sanitize.sh -R test_stream_hub. JOBS sets the build's parallelism (default nproc),
# SANITIZE_BUILD_TYPE its CMake build type (default Debug). Needs scripts/install-deps.sh's packages.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SANITIZE_BUILD_DIR="${SANITIZE_BUILD_DIR:-$ROOT/build-asan}"
# Debug (-O0 -g, asserts on): compiles ~4x faster than RelWithDebInfo here (3.7 vs 15.5 CPU-minutes with ASan),
# nothing is optimized away from the sanitizers, and the tests take the same time (they run in real time).
SANITIZE_BUILD_TYPE="${SANITIZE_BUILD_TYPE:-Debug}"
JOBS="${JOBS:-$(nproc)}"
REPORT_DIR="$SANITIZE_BUILD_DIR/sanitizer-reports"
SUPPRESSIONS="$ROOT/tests/sanitizers/lsan.supp"

say() { printf '==> %s\n' "$*" >&2; }
minutes() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }

pass_start=$SECONDS
say "sanitizer pass: ASan + UBSan + LSan build in $SANITIZE_BUILD_DIR"
cmake -S "$ROOT" -B "$SANITIZE_BUILD_DIR" -DCMAKE_BUILD_TYPE="$SANITIZE_BUILD_TYPE" -DMPEGCAST_SANITIZE=ON \
  -DMPEGCAST_BUILD_BENCH=OFF
cmake --build "$SANITIZE_BUILD_DIR" --parallel "$JOBS"
build_s=$((SECONDS - pass_start))

rm -rf "$REPORT_DIR" "$SANITIZE_BUILD_DIR/test-logs"
mkdir -p "$REPORT_DIR"
# ASan and LSan: log_path sends a report to $REPORT_DIR/asan.<pid> instead of the process's stderr, so one
# from a child process (whose stderr is a test log) cannot go unnoticed: an empty folder means no report.
# UBSan: GCC links it as a runtime of its own (libubsan) which, next to libasan, ignores log_path and
# always writes to stderr; with -fno-sanitize-recover the process then exits with status 1. Its reports
# are found below in the child logs and ctest's log. Child processes inherit all of this through the
# tests' fork/exec.
export ASAN_OPTIONS="log_path=$REPORT_DIR/asan:detect_leaks=1:halt_on_error=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$SUPPRESSIONS:print_suppressions=0"
if symbolizer="$(command -v llvm-symbolizer)"; then
  export ASAN_SYMBOLIZER_PATH="$symbolizer"
else
  say "llvm-symbolizer not found (Debian package llvm): stack traces may lack file:line"
fi

test_start=$SECONDS
status=0
ctest --test-dir "$SANITIZE_BUILD_DIR" --output-on-failure --timeout 1200 -L 'unit|integration' "$@" || status=$?
test_s=$((SECONDS - test_start))

shopt -s nullglob
reports=("$REPORT_DIR"/*)
for r in "${reports[@]}"; do
  echo "==> sanitizer report $r:" >&2
  cat "$r" >&2
done
# Reports written to stderr (UBSan; anything else that missed log_path): child logs and ctest's log.
pattern='runtime error: |ERROR: [A-Za-z]+Sanitizer|SUMMARY: [A-Za-z]+Sanitizer'
logs=("$SANITIZE_BUILD_DIR"/test-logs/*.log "$SANITIZE_BUILD_DIR"/Testing/Temporary/LastTest*.log)
for log in "${logs[@]}"; do
  if grep -qE "$pattern" "$log"; then
    echo "==> sanitizer report in $log:" >&2
    grep -E -A 30 "$pattern" "$log" | head -n 120 >&2
    reports+=("$log")
  fi
done
timing="build $(minutes "$build_s"), tests $(minutes "$test_s"), total $(minutes $((SECONDS - pass_start)))"
if ((${#reports[@]})); then
  say "sanitizer pass FAILED: reports in ${reports[*]} (above); child logs in $SANITIZE_BUILD_DIR/test-logs ($timing)"
  exit 1
fi
if ((status != 0)); then
  say "sanitizer pass FAILED: ctest exit status $status; log: $SANITIZE_BUILD_DIR/Testing/Temporary/LastTest.log ($timing)"
  exit "$status"
fi
say "sanitizer pass: no reports, all tests passed ($timing)"
