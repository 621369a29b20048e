#!/usr/bin/python3
"""A live camera stand-in for the glass-to-glass benchmark: YUV4MPEG2 (Y4M) frames, 640x480 yuv420p at 25 fps,
each carrying the wall clock at which it is written as a barcode, into a FIFO (or stdout).

Y4M because the capture agent's pipe: source probes its input (raw yuv420p has no header to probe); the ffmpeg
CLI reads the same bytes. The barcode: 40 bars of 16x32 pixels across the top of the picture (two macroblock
rows, each bar one macroblock wide, so MPEG-1 at 1 Mbit/s keeps every bar's centre clean): black (Y 16) = 0,
white (Y 235) = 1, most significant bit first (left). Bits 0-31: CLOCK_REALTIME in units of 10 us, mod 2^32
(wraps every 11.9 h; the page unwraps it against its own clock). Bits 32-39: check byte = the four bytes of
the time XORed with 0xA5. Below the barcode a diagonal gradient moves 4 px per frame, so the encoder has
something to code in every picture.

Each frame is stamped right before its write(2) starts. The FIFO's buffer is raised to 1 MiB, so a whole frame
(460 854 bytes) fits and the write does not wait for the reader. Frames are due on a CLOCK_MONOTONIC schedule
(absolute deadlines, no drift); a frame that is late is written at once and the schedule is kept.

  barcode_source.py --out FIFO [--seconds 60] [--fps 25]
Stops after --seconds, on SIGTERM/SIGINT, or when the reader goes away (EPIPE). Prints one summary line.
"""
import argparse
import fcntl
import os
import signal
import sys
import time

W, H = 640, 480
BITS = 40
BAR_W, BAR_H = 16, 32
F_SETPIPE_SZ = 1031
BLACK, WHITE = 16, 235


def barcode_rows(stamp: int) -> bytes:
    t = stamp & 0xFFFFFFFF
    check = ((t >> 24) ^ (t >> 16) ^ (t >> 8) ^ t ^ 0xA5) & 0xFF
    value = (t << 8) | check
    row = bytearray()
    for i in range(BITS):
        bit = (value >> (BITS - 1 - i)) & 1
        row += bytes([WHITE if bit else BLACK]) * BAR_W
    return bytes(row) * BAR_H


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True, help='FIFO path, or - for stdout')
    ap.add_argument('--seconds', type=float, default=60.0)
    ap.add_argument('--fps', type=int, default=25)
    a = ap.parse_args()
    if not 1 <= a.fps <= 60 or not 0 < a.seconds <= 7200:
        ap.error('--fps 1..60, --seconds 0..7200')

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    signal.signal(signal.SIGPIPE, signal.SIG_DFL if a.out == '-' else signal.SIG_IGN)

    fd = 1 if a.out == '-' else os.open(a.out, os.O_WRONLY)  # waits for the reader to open the FIFO
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass
    os.write(fd, f'YUV4MPEG2 W{W} H{H} F{a.fps}:1 Ip A1:1 C420jpeg\n'.encode())

    ramp = bytes(((i * 219) // 256 + 16) for i in range(256)) * 8   # 16..234, 2048 bytes
    chroma = bytes([128]) * (W * H // 2)
    period_ns = 1_000_000_000 // a.fps
    t0 = time.monotonic_ns()
    frames = late = 0
    max_late_ms = 0.0
    n_max = int(a.seconds * a.fps)
    while frames < n_max and not stop:
        due = t0 + frames * period_ns
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        else:
            late += due < now - 2_000_000
            max_late_ms = max(max_late_ms, (now - due) / 1e6)
        off = (frames * 4) % 256
        body = b''.join(ramp[off + y % 256: off + y % 256 + W] for y in range(BAR_H, H))
        stamp = time.clock_gettime_ns(time.CLOCK_REALTIME) // 10_000
        frame = b'FRAME\n' + barcode_rows(stamp) + body + chroma
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(fd, view):]
        except BrokenPipeError:
            break
        frames += 1
    print(f'barcode_source: {frames} frames in {(time.monotonic_ns() - t0) / 1e9:.1f} s, '
          f'{late} written > 2 ms late (max {max_late_ms:.1f} ms)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
