#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each for a short while.
# See --help. Called by scripts/test.sh; README.md "Fuzzing" says how to run one target for hours.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL_TARGETS=(ts_hub http_request_parser http_response_parser cascade_via video_format relay_config capture_config demand_answer)

usage() {
  cat <<EOF
usage: scripts/fuzz.sh [--build-only] [TARGET…]

Builds the fuzz targets of tests/fuzz with clang, -fsanitize=fuzzer,address,undefined, into
\$FUZZ_BUILD_DIR (default build-fuzz/), then runs each TARGET (default: all of
${ALL_TARGETS[*]})
for \$FUZZ_SECONDS seconds (default 25), one after another, under nice. Each run grows a work corpus in
\$FUZZ_BUILD_DIR/fuzz-work/TARGET, seeded from tests/fuzz/corpus/TARGET and tests/fuzz/regressions/TARGET
(and conf/*.conf for the config targets); libFuzzer's output goes to \$FUZZ_BUILD_DIR/fuzz-logs/TARGET.log.

Prints one line per target (executions, coverage, corpus size) and exits with status 1 when a target
crashed, leaked, hit undefined behaviour, timed out or broke one of its invariants, naming the input that did
it (in \$FUZZ_BUILD_DIR/fuzz-artifacts/TARGET/) and how to reproduce it. Status 2: bad usage or no clang /
libFuzzer (scripts/install-deps.sh installs clang and libclang-rt-14-dev).

  --build-only   build, do not run
  JOBS=N         build parallelism (default 2)
EOF
}

BUILD_ONLY=0
TARGETS=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --build-only) BUILD_ONLY=1 ;;
    -*) usage >&2; exit 2 ;;
    *)
      if [[ " ${ALL_TARGETS[*]} " != *" $arg "* ]]; then
        echo "fuzz.sh: unknown target \"$arg\" (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
      fi
      TARGETS+=("$arg") ;;
  esac
done
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_EACH="${FUZZ_SECONDS:-25}"
JOBS="${JOBS:-2}"
say() { printf '==> %s\n' "$*" >&2; }

# clang and libFuzzer's runtime must be there: say which package is missing instead of a link error.
if ! command -v clang++ >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
  echo "fuzz.sh: clang not found: run scripts/install-deps.sh (Debian packages clang, libclang-rt-14-dev)" >&2
  exit 2
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz.sh: clang cannot link libFuzzer: run scripts/install-deps.sh (Debian package libclang-rt-14-dev)" >&2
  exit 2
fi

# Only what the fuzz targets need: the shared, relay and capture libraries and tests/fuzz.
build_start=$(date +%s)
say "configuring $BUILD (clang, MPEGCAST_FUZZ=ON)"
nice -n 10 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DMPEGCAST_FUZZ=ON -DMPEGCAST_BUILD_BENCH=OFF >/dev/null
say "building ${TARGETS[*]/#/fuzz_} (-j$JOBS)"
nice -n 10 cmake --build "$BUILD" --parallel "$JOBS" --target "${TARGETS[@]/#/fuzz_}"
say "build took $(($(date +%s) - build_start)) s"
((BUILD_ONLY)) && exit 0

# libconfig 1.5 leaks on some parse errors; that is not ours to fix (tests/fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

failed=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD/tests/fuzz/fuzz_$t"
  work="$BUILD/fuzz-work/$t"
  artifacts="$BUILD/fuzz-artifacts/$t"
  log="$BUILD/fuzz-logs/$t.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  seeds=("$ROOT/tests/fuzz/corpus/$t")
  [[ -d "$ROOT/tests/fuzz/regressions/$t" ]] && seeds+=("$ROOT/tests/fuzz/regressions/$t")
  extra=()
  if [[ "$t" == *_config ]]; then
    cp -n "$ROOT/conf/${t%_config}.conf" "$work/"
    # libconfig 1.5 leaks on some parse errors (tests/fuzz/lsan.supp); each one makes libFuzzer run a
    # full leak check, 600 inputs/s instead of 12000. The fuzz_replay_* ctests still check for leaks.
    extra+=(-detect_leaks=0)
  fi

  status=0
  nice -n 10 "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    ${extra[@]+"${extra[@]}"} -artifact_prefix="$artifacts/" "$work" "${seeds[@]}" >"$log" 2>&1 || status=$?

  # The last status line: "#N  DONE  cov: C ft: F corp: K/SIZE exec/s: E rss: R".
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")"
  if ((status == 0)); then
    printf 'fuzz %-20s ok      %s execs (%s/s), cov %s, ft %s, corpus %s\n' "$t" "${execs:-?}" "${rate:-?}" \
      "${cov:-?}" "${ft:-?}" "${corp:-?}"
  else
    failed=1
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    what_re='ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz invariant broken'
    what="$(grep -m1 -E "$what_re" "$log" || true)"
    printf 'fuzz %-20s FAILED  (exit %s) %s\n' "$t" "$status" "${what:-see the log}"
    printf '     log:        %s\n' "$log"
    if [[ -n "$artifact" ]]; then
      printf '     input:      %s\n' "$artifact"
      printf '     reproduce:  %s %s\n' "$bin" "$artifact"
      printf '     minimise:   %s -minimize_crash=1 -runs=100000 -exact_artifact_path=%s.min %s\n' "$bin" \
        "$artifact" "$artifact"
      printf '     then fix the bug and keep the input as tests/fuzz/regressions/%s/<what-it-broke>\n' "$t"
    fi
  fi
done
exit "$failed"
