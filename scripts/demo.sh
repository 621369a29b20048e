#!/usr/bin/env bash
# The demo: installs the dependencies, builds, starts mpegcast-relay and mpegcast-capture (the camera at
# /dev/video0 if there is one, else a test pattern) and prints the URLs to open. Ctrl-C stops both.
#
# Environment:
#   MPEGCAST_PORT=8080          viewer port (web, API, WebSocket, HTTP-TS) on all interfaces
#   MPEGCAST_INGEST_PORT=8081   publisher port, loopback only
#   MPEGCAST_STREAM=cam1        stream name
#   MPEGCAST_INPUT=SPEC         capture input (default v4l2:/dev/video0 if it exists, else lavfi:testsrc2)
#   MPEGCAST_SKIP_BUILD=1       use the existing build/ as it is
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PORT="${MPEGCAST_PORT:-8080}"
INGEST_PORT="${MPEGCAST_INGEST_PORT:-8081}"
STREAM="${MPEGCAST_STREAM:-cam1}"
LOG_DIR="$BUILD_DIR/demo-logs"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

port_in_use() {  # port_in_use ADDR PORT: is something listening there?
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$2" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
  fi
}

who_listens() {
  command -v ss >/dev/null 2>&1 && ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*' | head -1 | sed 's/users:((//'
}

if [[ "${MPEGCAST_SKIP_BUILD:-0}" != 1 ]]; then
  "$ROOT/scripts/install-deps.sh"
  "$ROOT/scripts/build.sh"
fi

RELAY="$BUILD_DIR/relay/mpegcast-relay"
CAPTURE="$BUILD_DIR/capture/mpegcast-capture"
[[ -x "$RELAY" ]] || die "$RELAY not found: build first (scripts/build.sh)"
[[ -x "$CAPTURE" ]] || die "$CAPTURE not found: build first (scripts/build.sh)"
[[ -f "$BUILD_DIR/web/player.html" ]] || die "$BUILD_DIR/web has no player: build the 'web' target"

for p in "$PORT:viewer:MPEGCAST_PORT" "$INGEST_PORT:ingest:MPEGCAST_INGEST_PORT"; do
  IFS=: read -r port what var <<<"$p"
  if port_in_use 127.0.0.1 "$port"; then
    owner="$(who_listens "$port" || true)"
    die "port $port (the $what port) is already taken${owner:+ by $owner}; stop that program or choose another port, e.g. $var=$((port + 10)) $0"
  fi
done

if [[ -n "${MPEGCAST_INPUT:-}" ]]; then
  INPUT="$MPEGCAST_INPUT"
elif [[ -e /dev/video0 ]]; then
  INPUT="v4l2:/dev/video0"
else
  INPUT="lavfi:testsrc2=size=640x480:rate=25"
fi

relay_args=(--listen "0.0.0.0:$PORT" --ingest-listen "127.0.0.1:$INGEST_PORT" --web-root "$BUILD_DIR/web")
capture_args=(--input "$INPUT" --target "http://127.0.0.1:$INGEST_PORT/publish/$STREAM")
[[ -f "$ROOT/conf/relay.conf" ]] && relay_args=(-c "$ROOT/conf/relay.conf" "${relay_args[@]}")
[[ -f "$ROOT/conf/capture.conf" ]] && capture_args=(-c "$ROOT/conf/capture.conf" "${capture_args[@]}")

mkdir -p "$LOG_DIR"
: >"$LOG_DIR/relay.log"
: >"$LOG_DIR/capture.log"
RELAY_PID=""
CAPTURE_PID=""

stop_all() {
  trap - INT TERM EXIT
  local pid
  for pid in $CAPTURE_PID $RELAY_PID; do   # capture first: the relay sees a clean end of stream
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap 'echo >&2; say "stopping"; stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

say "starting the relay: $RELAY ${relay_args[*]}"
"$RELAY" "${relay_args[@]}" 2> >(trap '' INT; exec tee -a "$LOG_DIR/relay.log" >&2) &
RELAY_PID=$!
for _ in $(seq 100); do
  grep -q ready "$LOG_DIR/relay.log" 2>/dev/null && break
  kill -0 "$RELAY_PID" 2>/dev/null || die "the relay exited at start; see $LOG_DIR/relay.log"
  sleep 0.1
done
grep -q ready "$LOG_DIR/relay.log" || die "the relay did not get ready within 10 s; see $LOG_DIR/relay.log"

say "starting the capture agent: $CAPTURE ${capture_args[*]}"
"$CAPTURE" "${capture_args[@]}" 2> >(trap '' INT; exec tee -a "$LOG_DIR/capture.log" >&2) &
CAPTURE_PID=$!

HOST_IP="$(hostname -I 2>/dev/null | awk '{print $1}')"
HOST_IP="${HOST_IP:-127.0.0.1}"
cat >&2 <<MSG

  mpegcast demo is running (input: $INPUT)

    player     http://$HOST_IP:$PORT/player.html?stream=$STREAM
    dashboard  http://$HOST_IP:$PORT/
    ffplay     ffplay http://$HOST_IP:$PORT/live/$STREAM.ts
    API        http://$HOST_IP:$PORT/api/v1/streams

  logs in $LOG_DIR. Press Ctrl-C to stop.

MSG

# Runs until Ctrl-C, or until one of the two programs ends on its own.
set +e
wait -n "$RELAY_PID" "$CAPTURE_PID"
status=$?
set -e
if kill -0 "$RELAY_PID" 2>/dev/null; then who=mpegcast-capture; log=capture.log; else who=mpegcast-relay; log=relay.log; fi
say "$who exited (status $status); stopping the demo. See $LOG_DIR/$log"
exit 1
