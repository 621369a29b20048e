#!/usr/bin/env python3
"""On-demand first-picture benchmark for mpegcast (bench/README.md, issue 10).

Starts a chain of three relays on free 127.0.0.1 ports, origin <- mid <- edge, where mid pulls stream
`bench` on demand from the origin and the edge pulls it on demand from mid (relay.conf `pull`,
idle_timeout_s = 1), and a publisher (mpegcast-bench-publish, tcp ingest) feeding the origin. Then, for
each repeat, it measures in turn (A B C A B C ...) one viewer at each level:

  origin  0 pull hops (the stream is there; the GOP cache answers at once)
  mid     1 on-demand pull hop, nothing pulled yet
  edge    2 on-demand pull hops, nothing pulled yet (mid does not have the stream either)

Before each viewer it waits (bounded) until neither mid nor the edge knows the stream any more
(GET /api/v1/streams/bench answers 404 on both: the idle pulls stopped and the hubs dropped the stream).
The viewer is one mpegcast-bench-viewers WebSocket viewer (-n 1); its join_ms is connect() to the first
MPEG-1 sequence header (00 00 01 B3) on a video PID, i.e. the first decodable picture. Prints one line
per viewer and p50/p90/max per level (nearest rank); appends every record to bench/out/first_picture.jsonl.
Python 3 standard library only; uses run.py's helpers.
"""
import argparse
import atexit
import datetime
import json
import math
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py)

LEVELS = {"origin": 0, "mid": 1, "edge": 2}


def knows_stream(api_port):
    """True when the relay answering on `api_port` lists stream `bench` (200), False on 404."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v1/streams/{bench.STREAM}", timeout=2) as r:
            r.read()
            return True
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        raise


def wait_cold(api_ports, timeout_s):
    """Waits until no relay in `api_ports` knows the stream; returns the seconds waited."""
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    while time.monotonic() < deadline:
        if not any(knows_stream(p) for p in api_ports):
            return time.monotonic() - t0
        time.sleep(0.1)
    raise RuntimeError(f"the stream was still known on 127.0.0.1:{api_ports} after {timeout_s} s (idle pull not stopped?)")


def start_relay(args, tmp, name, extra=""):
    """A relay named `name`; returns (Popen, viewer port, api port, ingest raw port)."""
    port, api_port, ingest_port, raw_port = (bench.free_port() for _ in range(4))
    conf = tmp / f"{name}.conf"
    bench.relay_config(conf, tmp, port, ingest_port, raw_port, 10, extra + f'api_listen = "127.0.0.1:{api_port}";\n', node=name)
    proc = bench.spawn([args.bins["relay"], "-c", conf], bench.OUT / "relay.log", f"first_picture {name}")
    bench.wait_listening(api_port, proc)
    return proc, port, api_port, raw_port


def pull_rule(upstream_port, idle_s):
    return (f'pull = ( {{ streams = "{bench.STREAM}"; upstreams = [ "http://127.0.0.1:{upstream_port}" ]; on_demand = true; '
            f'idle_timeout_s = {idle_s}; start_timeout_s = 5; }} );\n')


def one_viewer(args, tmp, port, label):
    """One WebSocket viewer until its window ends; returns its join_ms (None when no picture came)."""
    report = tmp / f"viewer-{label}.json"
    report.unlink(missing_ok=True)
    v = bench.spawn([args.bins["viewers"], "-u", f"ws://127.0.0.1:{port}/live/{bench.STREAM}", "-n", 1, "--warmup", 0,
                     "--duration", args.window, "--report", report], bench.OUT / "viewers.log", f"first_picture {label}",
                    stdout=open(tmp / "viewer.out", "wb"))
    try:
        v.wait(timeout=args.window + 30)
    except Exception:  # noqa: BLE001 (TimeoutExpired): stopped below
        pass
    bench.stop(v)
    if not report.exists():
        raise RuntimeError(f"the viewer wrote no report (see {bench.OUT / 'viewers.log'})")
    j = json.loads(report.read_text())["join_ms"]
    return j["max"] if j["count"] == 1 else None


def nearest_rank(xs, q):
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="viewers per level (default 20, at most 500)")
    ap.add_argument("--levels", default="origin,mid,edge", help="comma-separated, in turn per repeat (default origin,mid,edge)")
    ap.add_argument("--window", type=float, default=1.5, help="each viewer's window, s: a picture later than this counts as none (default 1.5)")
    ap.add_argument("--idle-timeout-s", type=int, default=1, help="idle_timeout_s of the pull rules (default 1)")
    ap.add_argument("--cold-timeout", type=float, default=20.0, help="longest wait for mid and edge to drop the stream, s (default 20)")
    ap.add_argument("--build-dir", default=str(bench.ROOT / "build-bench"), help="where the binaries are (default build-bench)")
    ap.add_argument("--relay-bin", help="relay binary (default BUILD_DIR/relay/mpegcast-relay)")
    args = ap.parse_args()
    levels = [x.strip() for x in args.levels.split(",") if x.strip()]
    if not levels or any(x not in LEVELS for x in levels) or not 1 <= args.repeat <= 500:
        sys.exit("run: --levels takes origin, mid, edge; --repeat 1..500")

    signal.signal(signal.SIGINT, bench.on_signal)
    signal.signal(signal.SIGTERM, bench.on_signal)
    atexit.register(bench.stop_all)
    args.bins = bench.binaries(args)
    bench.ensure_input(args)
    bench.OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="mpegcast-first-picture-"))

    origin, origin_port, origin_api, origin_raw = start_relay(args, tmp, "origin")
    mid, mid_port, mid_api, _ = start_relay(args, tmp, "mid", pull_rule(origin_port, args.idle_timeout_s))
    edge, edge_port, edge_api, _ = start_relay(args, tmp, "edge", pull_rule(mid_port, args.idle_timeout_s))
    ports = {"origin": origin_port, "mid": mid_port, "edge": edge_port}
    pub = bench.spawn([args.bins["publish"], "-i", bench.INPUT, "-u", f"tcp://127.0.0.1:{origin_raw}", "--duration-s", 3600],
                      bench.OUT / "publish.log", "first_picture")
    time.sleep(1.5)  # the origin holds a keyframe (GOP cache) before the first viewer
    if pub.poll() is not None:
        sys.exit(f"first_picture.py: the publisher exited with status {pub.returncode}")

    common = {"git_head": bench.git_revision(), "binary": bench.binary_identity(args.bins["relay"]),
              "idle_timeout_s": args.idle_timeout_s, "window_s": args.window}
    results = {lv: [] for lv in levels}
    misses = {lv: 0 for lv in levels}
    print("rep\tlevel\thops\tjoin_ms\tcold_wait_s\tloadavg")
    with open(bench.OUT / "first_picture.jsonl", "a") as jl:
        for rep in range(args.repeat):
            for lv in levels:
                if any(p.poll() is not None for p in (origin, mid, edge, pub)):
                    sys.exit("first_picture.py: a relay or the publisher exited (see bench/out/*.log)")
                waited = wait_cold([mid_api, edge_api], args.cold_timeout)
                load = bench.loadavg()
                join = one_viewer(args, tmp, ports[lv], f"{lv}-{rep}")
                if join is None:
                    misses[lv] += 1
                else:
                    results[lv].append(join)
                rec = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "rep": rep, "level": lv, "hops": LEVELS[lv],
                       "join_ms": join, "cold_wait_s": round(waited, 2), "loadavg": load, **common}
                jl.write(json.dumps(rec) + "\n")
                jl.flush()
                print(f"{rep}\t{lv}\t{LEVELS[lv]}\t{'none' if join is None else f'{join:.1f}'}\t{waited:.2f}\t{load}", flush=True)
    print("level\thops\tn\tp50_ms\tp90_ms\tmax_ms\tno_picture")
    for lv in levels:
        xs = results[lv]
        print(f"{lv}\t{LEVELS[lv]}\t{len(xs)}\t{nearest_rank(xs, 0.5):.1f}\t{nearest_rank(xs, 0.9):.1f}\t"
              f"{max(xs) if xs else float('nan'):.1f}\t{misses[lv]}")
    bench.stop_all()


if __name__ == "__main__":
    main()
