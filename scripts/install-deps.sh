#!/usr/bin/env bash
# Installs everything mpegcast needs to build, test and run its demo on Debian 12, then the npm packages of
# web/ (JSMpeg) and tests/browser/ (playwright-core). Idempotent: apt is asked only when a package is missing,
# npm ci runs only when node_modules does not match package-lock.json. Works as root or through sudo.
# clang and libclang-rt-14-dev (libFuzzer, the sanitizer runtimes) are for scripts/fuzz.sh.
# fonts-dejavu-core: the capture agent's "NO SIGNAL" slate (drawtext). python3-gi, gir1.2-gst-rtsp-server-1.0 and
# the GStreamer plugins (videotestsrc, x264enc, rtph264pay): the RTSP camera the capture tests run.
# `--bench` adds the benchmark's tools (gnuplot-nox, linux-perf).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
  build-essential cmake pkg-config
  libavdevice-dev libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libavutil-dev
  libwebsockets-dev libwebsockets-evlib-ev libev-dev libhttp-parser-dev libconfig++-dev libcli11-dev nlohmann-json3-dev libsystemd-dev
  libboost-test-dev llvm iproute2 nftables
  ffmpeg chromium prometheus srt-tools
  fonts-dejavu-core
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  clang libclang-rt-14-dev
)
# --bench: also what bench/ uses beyond the build (gnuplot for run.py --plot, perf for --perf).
if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=(gnuplot-nox linux-perf)
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--bench]" >&2
  exit 2
fi
# Node.js: Debian's nodejs + npm, unless a node and npm are already there (e.g. NodeSource's nodejs, which
# ships npm itself and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

say() { printf '==> %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    say "missing Debian packages: ${missing[*]}"
    say "run this script as root, or install sudo"
    exit 1
  fi
  say "installing Debian packages (missing: ${missing[*]})"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
else
  say "Debian packages: all ${#PACKAGES[@]} installed"
fi

# npm ci in each folder that has a lock file, unless its node_modules already matches the lock
# (npm records what it installed in node_modules/.package-lock.json).
for dir in web tests/browser; do
  d="$ROOT/$dir"
  if [[ -f "$d/node_modules/.package-lock.json" ]] && node -e '
      const fs = require("fs");
      const want = JSON.parse(fs.readFileSync(process.argv[1] + "/package-lock.json")).packages;
      const have = JSON.parse(fs.readFileSync(process.argv[1] + "/node_modules/.package-lock.json")).packages;
      for (const [k, v] of Object.entries(want)) {
        if (k && (!have[k] || have[k].version !== v.version)) process.exit(1);
      }' "$d" 2>/dev/null; then
    say "$dir: node_modules up to date"
  else
    say "$dir: npm ci"
    (cd "$d" && npm ci --no-audit --no-fund)
  fi
done
