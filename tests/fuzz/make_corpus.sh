#!/usr/bin/env bash
# Regenerates the generated seeds of tests/fuzz/corpus/ (the hand-written ones, small configs and
# via headers, are kept as they are). Needs ffmpeg (libx264) and python3; takes a few seconds.
#
# TS seeds (ts_hub, and the bodies of the http_request_parser seeds) are real FFmpeg output from the
# lavfi test pattern, small enough to keep the whole corpus well under 1 MB:
#   MPEG-1:  ffmpeg -f lavfi -i testsrc2=size=128x96:rate=25 -t 1.6 -c:v mpeg1video -bf 0 -g 12 -b:v 120k -f mpegts
#   +MP2:    … -f lavfi -i sine=frequency=440:sample_rate=32000 -c:a mp2 -b:a 32k (MPEG-1 mode with audio)
#   H.264:   ffmpeg -f lavfi -i testsrc2=size=128x96:rate=25 -t 1.6 -c:v libx264 -tune zerolatency
#              -preset ultrafast -g 12 -pix_fmt yuv420p -b:v 120k -f mpegts
# A fuzz input is read from both ends (tests/fuzz/fuzz_input.h): payload from the front, the
# script (sizes, clock steps, operations) from the back. Each seed here is the payload with a
# script appended, written in the order the target reads it (see script() below), so the seed
# drives a realistic session: a publisher sending 1316-byte pieces every 40 ms while viewers join,
# lag and leave; a publisher restart; ticks.
#
# The HTTP seeds' request heads are what FFmpeg's http protocol sends (captured from a real
# `ffmpeg … -f mpegts http://HOST:PORT/publish/cam1` and the JSMpeg-style `…/secret/640/480`), what
# a relay's push link sends (X-Mpegcast-Via) and a WebSocket publisher's handshake.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CORPUS="$HERE/corpus"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
SRC=(-f lavfi -i testsrc2=size=128x96:rate=25)
ff "${SRC[@]}" -t 1.6 -c:v mpeg1video -bf 0 -g 12 -b:v 120k -f mpegts "$TMP/mpeg1.ts"
ff "${SRC[@]}" -f lavfi -i sine=frequency=440:sample_rate=32000 -t 1.6 -c:v mpeg1video -bf 0 -g 12 -b:v 120k \
  -c:a mp2 -b:a 32k -f mpegts "$TMP/mpeg1_mp2.ts"
ff "${SRC[@]}" -t 1.6 -c:v libx264 -tune zerolatency -preset ultrafast -g 12 -pix_fmt yuv420p -b:v 120k \
  -f mpegts "$TMP/h264.ts"
ff "${SRC[@]}" -t 0.5 -c:v libx264 -tune zerolatency -preset ultrafast -g 5 -pix_fmt yuv420p -b:v 120k \
  -f mpegts "$TMP/h264_short.ts"

# FFmpeg's own request heads: a listener that records what `ffmpeg … http://…` sends.
capture_request() {  # capture_request PATH OUT
  python3 - "$1" "$2" "$TMP/h264_short.ts" <<'EOF'
import socket, subprocess, sys
path, out, ts = sys.argv[1:4]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
ff = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "quiet", "-re", "-i", ts, "-c", "copy",
                       "-f", "mpegts", f"http://127.0.0.1:{port}{path}"])
conn, _ = srv.accept(); conn.settimeout(5)
data = b""
while b"\r\n\r\n" not in data:
    data += conn.recv(4096)
head = data[:data.index(b"\r\n\r\n") + 4].replace(b":%d\r\n" % port, b":8081\r\n")  # stable seeds
open(out, "wb").write(head)
conn.close(); ff.kill(); ff.wait()
EOF
}
capture_request /publish/cam1 "$TMP/head_publish"
capture_request /secret/640/480 "$TMP/head_jsmpeg"

python3 - "$TMP" "$CORPUS" <<'EOF'
import os, sys
tmp, corpus = sys.argv[1:3]

def read(name):
    return open(os.path.join(tmp, name), "rb").read()

class Script:
    """Values in the order a target reads them; bytes() gives them as the file's tail."""
    def __init__(self): self.read_order = []
    def u8(self, v): self.read_order.append(v & 0xFF); return self
    def u16(self, v): return self.u8(v).u8(v >> 8)  # FuzzInput::u16 reads the low byte first
    def range(self, lo, hi, v):  # FuzzInput::range(lo, hi) == v
        return self.u16(v - lo) if hi - lo + 1 > 256 else self.u8(v - lo)
    def bytes(self): return bytes(reversed(self.read_order))

def write(target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    open(os.path.join(corpus, target, name), "wb").write(data)

# ---- ts_hub: config_from(), attach(), then one operation after another (fuzz_ts_hub.cpp run()).
def hub_script(ts_len, gop_cache_packets, max_lag_ms, max_chunk_bytes, coalesce_ms, piece, restart_at):
    s = Script()
    s.range(3, 8, 8).range(2, 6, 6).range(1, 400, gop_cache_packets).range(0, 3000, max_lag_ms)
    s.range(1, 64 * 188, max_chunk_bytes).u8(200).range(188, 64 * 1024, 64 * 1024)
    if coalesce_ms: s.u8(0).range(1, 200, coalesce_ms)
    else: s.u8(200)
    s.u8(0).u8(0)                                        # attach publisher 0, no takeover
    s.u8(11).range(1, 5, 1).u8(1)                        # slot 1 joins, reads on every wake
    s.u8(11).range(1, 5, 2).u8(0)                        # slot 2 joins, reads only when told
    pieces = -(-ts_len // piece)  # the publishes take the payload exactly
    for i in range(pieces):
        s.u8(0).range(1, 8192, piece).u8(40).u8(200)     # publish a piece, 40 ms later
        if i % 5 == 4: s.u8(13).range(1, 5, 2).range(1, 8, 2)  # the lagging viewer reads 2 chunks
        if i % 25 == 24: s.u8(8).range(0, 2500, 100)     # tick
        if i == pieces // 3: s.u8(11).range(1, 5, 3).u8(1)     # slot 3 joins mid-way
        if i == pieces // 2: s.u8(12).range(1, 5, 1)           # slot 1 leaves mid-way
        if i == restart_at: s.u8(9).u8(1).u8(1)               # publisher restart (takeover)
    return s.bytes()

for name, ts, kw in [
    ("mpeg1_1316_pieces", "mpeg1.ts", dict(gop_cache_packets=100, max_lag_ms=500, max_chunk_bytes=1316,
                                           coalesce_ms=0, piece=1316, restart_at=-1)),
    ("h264_restart", "h264.ts", dict(gop_cache_packets=60, max_lag_ms=300, max_chunk_bytes=7520,
                                     coalesce_ms=0, piece=1316, restart_at=20)),
    ("mpeg1_mp2_coalesce_small_cache", "mpeg1_mp2.ts", dict(gop_cache_packets=8, max_lag_ms=100,
                                                            max_chunk_bytes=500, coalesce_ms=30, piece=700,
                                                            restart_at=30)),
]:
    data = read(ts)
    write("ts_hub", name + ".bin", data + hub_script(len(data), **kw))
write("ts_hub", "h264_short_raw.ts", read("h264_short.ts"))  # no script: the tail drives it

# ---- http_request_parser: max_head_bytes, fragment count, fragment sizes (fuzz_http_request_parser.cpp).
def http_script(max_head, pieces):
    s = Script().range(16, 8192, max_head).range(1, 16, len(pieces))
    for p in pieces: s.range(1, 512, p)
    return s.bytes()

def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"

body = read("h264_short.ts")[:188 * 12]
frag = [1, 7, 100, 3, 512, 188, 2, 64]
write("http_request_parser", "ffmpeg_chunked_publish.bin",
      read("head_publish") + chunked(body, 1316) + http_script(8192, frag))
write("http_request_parser", "ffmpeg_jsmpeg_secret_640_480.bin",
      read("head_jsmpeg") + chunked(body[:188 * 4], 376) + http_script(8192, [13, 1, 200]))
write("http_request_parser", "post_content_length.bin",
      b"POST /publish/cam1?secret=s3cr%%20t HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nContent-Type: video/mp2t\r\n"
      b"Content-Length: %d\r\nAuthorization: Bearer s3cret\r\n\r\n" % len(body) + body + http_script(4096, [50, 50]))
write("http_request_parser", "push_link_via.bin",
      b"POST /publish/cam1 HTTP/1.1\r\nHost: edge-2:8081\r\nUser-Agent: mpegcast-relay/0.1.0\r\n"
      b"Content-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\nX-Mpegcast-Via: origin, mid-1\r\n"
      b"X-Mpegcast-Via: mid-2\r\n\r\n" + chunked(body[:188 * 7], 188 * 7) + http_script(1024, [5, 30, 5]))
write("http_request_parser", "websocket_upgrade.bin",
      b"GET /publish/cam1?secret=x HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      b"Sec-WebSocket-Protocol: null\r\nX-Mpegcast-Via: origin\r\n\r\n" + http_script(512, [20, 20, 20]))
write("http_request_parser", "expect_100_continue.bin",
      b"POST /secret HTTP/1.1\r\nHost: relay\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"5;ext=1\r\nabcde\r\n0\r\nTrailer: x\r\n\r\n" + http_script(300, [1, 1, 1, 1]))
EOF
echo "corpus: $(du -sh "$CORPUS" | cut -f1) in $(find "$CORPUS" -type f | wc -l) files"
