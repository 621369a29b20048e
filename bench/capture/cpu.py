#!/usr/bin/python3
"""Capture agent vs the ffmpeg CLI, same job (issue 11; never run by CI): CPU time per second and peak RSS.

Both encode lavfi testsrc2 640x480 at 25 fps (paced in real time: the agent paces lavfi, ffmpeg gets -re) to
MPEG-1 with the agent's defaults from conf/capture.conf (1000 kbit/s, maxrate 1500k, VBV 2800 kbit, GOP 25 = 1 s,
no B-frames, low_delay, one encoder thread), mux MPEG-TS (muxdelay 1 ms, flushed per packet) and POST it to
the same mpegcast-relay (one relay for the whole session, a new stream name per run). They run one at a time,
alternating in adjacent pairs (agent, ffmpeg; agent, ffmpeg; ...), so machine noise hits both alike.

Per run: the encoder starts, --warmup seconds pass, then utime+stime of /proc/PID/stat (all threads) is read
at the start and the end of a --seconds window: cpu_ms_per_s = CPU ms / wall s. VmHWM (peak RSS over the
process's life) from /proc/PID/status right before SIGTERM. The relay's /api/v1/streams/NAME bytes_in over the
same window shows both produced the same bitrate.

  /usr/bin/python3 bench/capture/cpu.py [--build-dir build-bench] [--pairs 5] [--seconds 20] [--warmup 3]
                                        [--ffmpeg-threads 1] [--out bench/out/capture-cpu]
One line per run, then per-pair ratios and their median; every run's record in OUT/runs.jsonl.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CLK_TCK = os.sysconf('SC_CLK_TCK')
GRAPH = 'testsrc2=size=640x480:rate=25'
children = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start(cmd, log):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    children.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    if p in children:
        children.remove(p)


def cpu_ticks(pid: int) -> int:
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def status_kb(pid: int, key: str) -> int:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return -1


def bytes_in(view_port: int, name: str) -> int:
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{view_port}/api/v1/streams/{name}', timeout=2) as r:
            return int(json.load(r).get('bytes_in', -1))
    except Exception:  # noqa: BLE001 (a missing stream is just "unknown")
        return -1


def wait_port(port: int, seconds: float):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f'port {port} did not answer within {seconds} s')


def loadavg() -> str:
    with open('/proc/loadavg') as f:
        return f.read().strip()


def encoder_cmd(kind, a, ingest_port, name):
    url = f'http://127.0.0.1:{ingest_port}/publish/{name}'
    if kind == 'agent':
        return [os.path.join(a.build_dir, 'capture/mpegcast-capture'), '-c', os.path.join(REPO, 'conf/capture.conf'),
                '--input', f'lavfi:{GRAPH}', '--target', url]
    threads = [] if a.ffmpeg_threads == 0 else ['-threads', str(a.ffmpeg_threads)]
    return ['ffmpeg', '-hide_banner', '-nostdin', '-loglevel', 'warning', '-re', '-f', 'lavfi', '-i', GRAPH,
            '-c:v', 'mpeg1video', '-b:v', '1000k', '-maxrate', '1500k', '-bufsize', '2800k', '-g', '25', '-bf', '0',
            '-flags', '+low_delay', '-strict', 'unofficial', *threads,
            '-f', 'mpegts', '-muxdelay', '0.001', '-flush_packets', '1', url]


def run_one(kind, pair, a, view_port, ingest_port, log):
    name = f'{kind}{pair}'
    cmd = encoder_cmd(kind, a, ingest_port, name)
    log.write(f'=== {time.strftime("%H:%M:%S")} {kind} pair {pair}: {" ".join(cmd)}\n'.encode())
    log.flush()
    rec = {'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'kind': kind, 'pair': pair,
           'cmd': cmd, 'loadavg_before': loadavg()}
    run_log_path = os.path.join(a.out, f'{name}.log')
    run_log = open(run_log_path, 'wb')
    p = start(cmd, run_log)
    try:
        time.sleep(a.warmup)
        if p.poll() is not None:
            raise RuntimeError(f'{kind} exited during warmup ({p.returncode}); see the log')
        c0, w0, b0 = cpu_ticks(p.pid), time.monotonic(), bytes_in(view_port, name)
        rss = []
        for _ in range(int(a.seconds)):
            time.sleep(1)
            rss.append(status_kb(p.pid, 'VmRSS'))
        time.sleep(a.seconds - int(a.seconds))
        c1, w1, b1 = cpu_ticks(p.pid), time.monotonic(), bytes_in(view_port, name)
        rec['cpu_ms_per_s'] = (c1 - c0) * 1000.0 / CLK_TCK / (w1 - w0)
        rec['vmhwm_mib'] = status_kb(p.pid, 'VmHWM') / 1024
        rec['vmrss_max_mib'] = max(rss) / 1024
        rec['threads'] = status_kb(p.pid, 'Threads')
        rec['relay_in_kbps'] = (b1 - b0) * 8 / 1000 / (w1 - w0) if b0 >= 0 and b1 >= 0 else None
        rec['cpu_total_s'] = c1 / CLK_TCK
    finally:
        stop(p)
        run_log.close()
        rec['loadavg_after'] = loadavg()
    with open(run_log_path, errors='replace') as f:
        text = f.read()
    # The agent says when its source is lost (the slate would be a different job); ffmpeg logs warnings only.
    rec['source_lost'] = 'slate is on the stream' in text or 'lost:' in text
    log.write(text.encode())
    return rec


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', default=os.path.join(REPO, 'build-bench'))
    ap.add_argument('--pairs', type=int, default=5)
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--warmup', type=float, default=3)
    ap.add_argument('--ffmpeg-threads', type=int, default=1, help='0 = ffmpeg\'s default (auto)')
    ap.add_argument('--out', default=os.path.join(REPO, 'bench/out/capture-cpu'))
    a = ap.parse_args()
    if not 1 <= a.pairs <= 50 or not 1 <= a.seconds <= 600 or not 0 <= a.warmup <= 60:
        ap.error('--pairs 1..50, --seconds 1..600, --warmup 0..60')
    a.build_dir = os.path.abspath(a.build_dir)
    os.makedirs(a.out, exist_ok=True)

    def on_signal(*_):
        for c in list(children):
            c.kill()
        sys.exit(1)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log = open(os.path.join(a.out, 'processes.log'), 'ab')
    tmp = tempfile.mkdtemp(prefix='mpegcast-cpu-')
    conf = os.path.join(tmp, 'relay.conf')
    with open(conf, 'w') as f:
        f.write('# all defaults\n')
    view_port, ingest_port = free_port(), free_port()
    while ingest_port == view_port:
        ingest_port = free_port()
    relay = start([os.path.join(a.build_dir, 'relay/mpegcast-relay'), '-c', conf, '--listen', f'127.0.0.1:{view_port}',
                   '--ingest-listen', f'127.0.0.1:{ingest_port}'], log)
    recs = []
    try:
        wait_port(view_port, 10)
        wait_port(ingest_port, 10)
        print(f'# {time.strftime("%Y-%m-%d %H:%M:%S")} UTC, {a.pairs} pairs x {a.seconds:g} s (+{a.warmup:g} s warmup), '
              f'loadavg {loadavg()}', flush=True)
        for pair in range(1, a.pairs + 1):
            for kind in ('agent', 'ffmpeg'):
                r = run_one(kind, pair, a, view_port, ingest_port, log)
                recs.append(r)
                with open(os.path.join(a.out, 'runs.jsonl'), 'a') as f:
                    f.write(json.dumps(r) + '\n')
                kbps = f'{r["relay_in_kbps"]:.0f}' if r['relay_in_kbps'] is not None else '?'
                print(f'{kind:6} pair {pair}: cpu {r["cpu_ms_per_s"]:6.1f} ms/s, VmHWM {r["vmhwm_mib"]:5.1f} MiB, '
                      f'threads {r["threads"]}, relay in {kbps} kbit/s{", SOURCE LOST" if r["source_lost"] else ""}, load {r["loadavg_before"]} -> {r["loadavg_after"]}',
                      flush=True)
    finally:
        stop(relay)
        shutil.rmtree(tmp, ignore_errors=True)
    print('\npair | agent ms/s | ffmpeg ms/s | CPU ratio | agent VmHWM MiB | ffmpeg VmHWM MiB | RSS ratio')
    cpu_ratios, rss_ratios = [], []
    for pair in range(1, a.pairs + 1):
        ag = next(r for r in recs if r['pair'] == pair and r['kind'] == 'agent')
        ff = next(r for r in recs if r['pair'] == pair and r['kind'] == 'ffmpeg')
        cr, rr = ag['cpu_ms_per_s'] / ff['cpu_ms_per_s'], ag['vmhwm_mib'] / ff['vmhwm_mib']
        cpu_ratios.append(cr)
        rss_ratios.append(rr)
        print(f'{pair} | {ag["cpu_ms_per_s"]:.1f} | {ff["cpu_ms_per_s"]:.1f} | {cr:.3f} | {ag["vmhwm_mib"]:.1f} | '
              f'{ff["vmhwm_mib"]:.1f} | {rr:.3f}')
    med = statistics.median
    print(f'median | {med(r["cpu_ms_per_s"] for r in recs if r["kind"] == "agent"):.1f} | '
          f'{med(r["cpu_ms_per_s"] for r in recs if r["kind"] == "ffmpeg"):.1f} | {med(cpu_ratios):.3f} | '
          f'{med(r["vmhwm_mib"] for r in recs if r["kind"] == "agent"):.1f} | '
          f'{med(r["vmhwm_mib"] for r in recs if r["kind"] == "ffmpeg"):.1f} | {med(rss_ratios):.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
