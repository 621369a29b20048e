#!/usr/bin/env python3
"""Fan-out benchmark driver for mpegcast (bench/README.md).

Starts a target (mpegcast-relay or the floor relay mpegcast-bench-floor) on free 127.0.0.1 ports,
a publisher (mpegcast-bench-publish) replaying bench/out/input.ts, then N WebSocket viewers
(mpegcast-bench-viewers). Samples the target's CPU time and memory from /proc every second over
the viewers' steady window, and prints one line per run:

  target transport N slow cpu_ms_per_s cpu_ms_per_s_per_viewer_per_mbps rss_mb p50_ms p99_ms max_ms lost join_p50_ms fast_rx_mbps

appended (with a time column) to bench/out/results.tsv; the full record of each run, with the
viewers' JSON report, goes to bench/out/runs.jsonl. Python 3 standard library only.
"""
import argparse
import copy
import atexit
import datetime
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
INPUT = OUT / "input.ts"
COLUMNS = ["target", "transport", "N", "slow", "cpu_ms_per_s", "cpu_ms_per_s_per_viewer_per_mbps", "rss_mb",
           "p50_ms", "p99_ms", "max_ms", "lost", "join_p50_ms", "fast_rx_mbps", "edges", "coalesce_ms", "edge_kind"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
STREAM = "bench"

# ---------------------------------------------------------------------------------------------
# Child processes: every one is registered here and stopped (by its own pid) on any exit.

_children = []


PIN = {}  # role → CPU list for taskset ("target", "load"); empty: no pinning


def pinned(role, cmd):
    """`cmd` under `taskset -c CPUS` when --pin is on (taskset execs, so the pid stays the program's)."""
    return ["taskset", "-c", PIN[role], *cmd] if role in PIN else cmd


def spawn(cmd, log_path=None, header="", **kw):
    """Starts `cmd` in its own session (so a terminal's Ctrl-C reaches only run.py, which then
    stops it in order). stderr goes to `log_path` (appended, after `header`) unless given in kw."""
    if log_path is not None and "stderr" not in kw:
        f = open(log_path, "ab")
        f.write(f"=== {datetime.datetime.now().isoformat(timespec='seconds')} {header}\n$ {' '.join(map(str, cmd))}\n".encode())
        f.flush()
        kw["stderr"] = f
    p = subprocess.Popen([str(c) for c in cmd], start_new_session=True, stdin=subprocess.DEVNULL, **kw)
    _children.append(p)
    return p


def stop(p, timeout=5.0):
    """SIGTERM, then SIGKILL after `timeout` s; returns the exit status."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
        except ProcessLookupError:
            pass
    if p in _children:
        _children.remove(p)
    return p.returncode


def stop_all():
    for p in list(reversed(_children)):
        stop(p, timeout=3.0)


def on_signal(signum, _frame):
    stop_all()
    print(f"run.py: stopped by signal {signum}", file=sys.stderr)
    sys.exit(130)


# ---------------------------------------------------------------------------------------------
# Helpers


def free_port():
    """A port that is free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def proc_cpu_s(pid):
    """utime + stime of `pid` in seconds (from /proc/PID/stat), None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)
    except (OSError, IndexError, ValueError):
        return None


def proc_mem_kb(pid):
    """(VmRSS, VmHWM) of `pid` in KiB, (0, 0) when gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def binary_identity(path):
    """'sha256[:16] built YYYY-MM-DDTHH:MM:SS' of a binary, so a result names what was measured
    (the work tree's HEAD at run time need not be what the binary was built from)."""
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
        built = datetime.datetime.fromtimestamp(Path(path).stat().st_mtime).isoformat(timespec="seconds")
        return f"{digest} built {built}"
    except OSError:
        return "?"


def git_revision():
    """Short commit of the work tree, with '+dirty' when it has changes (for runs.jsonl)."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def ensure_input(args):
    if INPUT.exists() and INPUT.stat().st_size > 0:
        return
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25",
           "-t", "30", "-c:v", "mpeg1video", "-b:v", "1000k", "-maxrate", "1000k", "-bufsize", "500k", "-g", "25",
           "-bf", "0", "-f", "mpegts", "-muxdelay", "0.001", str(INPUT)]
    print("run.py: generating", INPUT, file=sys.stderr)
    subprocess.run(cmd, check=True)
    mbps = INPUT.stat().st_size * 8 / 30 / 1e6
    print(f"run.py: {INPUT}: {INPUT.stat().st_size} bytes, {mbps:.2f} Mbit/s", file=sys.stderr)


def binaries(args):
    b = Path(args.build_dir)
    paths = {
        "relay": Path(args.relay_bin) if args.relay_bin else b / "relay" / "mpegcast-relay",
        "floor": b / "bench" / "mpegcast-bench-floor",
        "publish": b / "bench" / "mpegcast-bench-publish",
        "viewers": b / "bench" / "mpegcast-bench-viewers",
    }
    missing = [str(p) for p in paths.values() if not os.access(p, os.X_OK)]
    if missing:
        sys.exit("run.py: missing " + ", ".join(missing) + f"\nbuild them: cmake -S {ROOT} -B {b} -DCMAKE_BUILD_TYPE=Release && "
                 f"cmake --build {b} -j2 --target mpegcast-bench mpegcast-relay")
    return paths


def relay_config(path, web_root, port, ingest_port, raw_port, n, extra="", node="bench"):
    limit = max(5000, n + 100)
    path.write_text(f"""# generated by bench/run.py
node_id = "{node}";
log_level = "info";
listen = "127.0.0.1:{port}";
ingest_listen = "127.0.0.1:{ingest_port}";
web_root = "{web_root}";
limits = {{
  max_viewers = {limit};
  max_viewers_per_stream = {limit};
}};
ingest = {{
  tcp = ( {{ listen = "127.0.0.1:{raw_port}"; stream = "{STREAM}"; allow = [ "127.0.0.0/8" ]; }} );
  udp = ( {{ listen = "127.0.0.1:{raw_port}"; stream = "{STREAM}"; allow = [ "127.0.0.0/8" ]; }} );
}};
""" + extra)


def start_edges(args, tmp, n, extra, tag, edges_k):
    """Topology 2/3 of DESIGN.md: K relays, each fed by a tcp:// push link from the origin
    (the relay the publisher feeds). Returns [(Popen, viewer port)] and the origin's `push` list."""
    edges, links = [], []
    for k in range(edges_k):
        port, ingest_port, raw_port = free_port(), free_port(), free_port()
        conf = tmp / f"edge{k}.conf"
        relay_config(conf, tmp, port, ingest_port, raw_port, n, extra, node=f"edge{k}")
        proc = spawn(pinned("target", [args.bins["relay"], "-c", conf, *args.relay_arg]), OUT / "relay.log", f"{tag} edge{k}")
        wait_listening(port, proc)
        edges.append((proc, port))
        links.append(f'{{ stream = "{STREAM}"; url = "tcp://127.0.0.1:{raw_port}"; }}')
    return edges, "push = ( " + ", ".join(links) + " );\n" if links else ""


def start_pull_edges(args, tmp, n, extra, tag, edges_k, origin_port, shared_port=None):
    """K relays that pull stream `bench` on demand from the origin's viewer port (relay.conf `pull`,
    `GET /live/bench.ts`). With `shared_port` they all listen on that one port with `reuse_port = true`
    (topology 2: the kernel spreads the viewers) and each answers its API on its own `api_listen`.
    Returns [(Popen, viewer port, api port)]."""
    edges = []
    for k in range(edges_k):
        port = shared_port or free_port()
        api_port, ingest_port, raw_port = free_port(), free_port(), free_port()
        pull = (f'pull = ( {{ streams = "{STREAM}"; upstreams = [ "http://127.0.0.1:{origin_port}" ]; on_demand = true; '
                f'idle_timeout_s = 10; start_timeout_s = 5; }} );\n')
        reuse = 'reuse_port = true;\n' if shared_port else ''
        conf = tmp / f"edge{k}.conf"
        relay_config(conf, tmp, port, ingest_port, raw_port, n, extra + pull + reuse + f'api_listen = "127.0.0.1:{api_port}";\n',
                     node=f"edge{k}")
        proc = spawn(pinned("target", [args.bins["relay"], "-c", conf, *args.relay_arg]), OUT / "relay.log", f"{tag} edge{k}")
        wait_listening(api_port, proc)  # with reuse_port the viewer port answers as soon as the first one listens
        edges.append((proc, port, api_port))
    return edges


def api_viewers(api_port):
    """`viewers` of stream `bench` from a relay's /api/v1/streams/bench, None when unreadable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v1/streams/{STREAM}", timeout=2) as r:
            return json.loads(r.read()).get("viewers")
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# One run


class ViewerEvents:
    """Reads the viewers' stderr lines (copied to viewers.log) and flags the window's edges."""

    def __init__(self, proc, log):
        self.start = threading.Event()
        self.end = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(proc, log), daemon=True)
        self.thread.start()

    def _read(self, proc, log):
        for raw in proc.stderr:
            log.write(raw)
            log.flush()
            line = raw.decode(errors="replace")
            if "steady window start" in line:
                self.start.set()
            elif "steady window end" in line:
                self.end.set()
        self.end.set()


def run_one(args, bins, config, transport, n, rep):
    """One run of `config` (parse_config) with N viewers."""
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="mpegcast-bench-"))
    port, ingest_port, raw_port = free_port(), free_port(), free_port()
    target, edge_kind, edges_k = config["target"], config["edge_kind"], config["edges"]
    coalesce = args.coalesce_ms if target == "relay" else 0
    tag = f"{target} {transport} N={n} slow={args.slow_frac} rep={rep} edges={edges_k} kind={edge_kind} coalesce_ms={coalesce}"
    result = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "target": target, "transport": transport,
              "N": n, "slow": args.slow_frac, "rep": rep, "edges": edges_k, "edge_kind": edge_kind, "config": config["name"],
              "coalesce_ms": coalesce, "pin": bool(PIN), "git_head": git_revision(),
              "binary": binary_identity(bins[target]), "loadavg_before": loadavg(), "ok": False}
    try:
        edges = []  # [(Popen, viewer port, api port or None)]
        if target == "relay":
            extra = f"hub = {{ coalesce_ms = {coalesce}; }};\n" if coalesce else ""
            push = ""
            if edges_k and edge_kind == "push":
                pushed, push = start_edges(args, tmp, n, extra, tag, edges_k)
                edges = [(p, vport, None) for p, vport in pushed]
            conf = tmp / "relay.conf"
            relay_config(conf, tmp, port, ingest_port, raw_port, n, extra + push)
            tproc = spawn(pinned("target", [bins["relay"], "-c", conf, *args.relay_arg]), OUT / "relay.log", tag)
        else:
            tproc = spawn(pinned("target", [bins["floor"], "--port", port, "--ingest-port", raw_port]), OUT / "floor.log", tag)
        # Both targets open every listener before serving any, so the viewer port answering is
        # enough (a probe of the ingest port would count as a publisher connecting and leaving).
        wait_listening(port, tproc)
        if edges_k and edge_kind in ("pull", "reuse"):
            # Started after the origin, so stop_all (newest first) stops them before it: no pull sees its
            # upstream go away at the end of a run.
            shared = free_port() if edge_kind == "reuse" else None
            edges = start_pull_edges(args, tmp, n, extra, tag, edges_k, port, shared)
        if transport == "http":
            url = f"http://127.0.0.1:{ingest_port}/publish/{STREAM}"
        else:
            url = f"{transport}://127.0.0.1:{raw_port}"
        pub = spawn(pinned("load", [bins["publish"], "-i", INPUT, "-u", url, "--duration-s", 3600]), OUT / "publish.log", tag)
        time.sleep(args.publisher_lead)  # the relay holds a keyframe (GOP cache) before the first viewer
        if pub.poll() is not None:
            raise RuntimeError(f"publisher exited with status {pub.returncode} (see {OUT / 'publish.log'})")

        # Viewers: on the target, or split evenly over the edges (one load process per edge), or all on
        # the one port the reuse_port edges share (one load process; the kernel spreads them).
        view_ports = sorted({p for _, p, _ in edges}) or [port]
        vlog = open(OUT / "viewers.log", "ab")
        vlog.write(f"=== {result['time']} {tag}\n".encode())
        viewers_list, evs, reports = [], [], []
        for k, vport in enumerate(view_ports):
            count = n // len(view_ports) + (1 if k < n % len(view_ports) else 0)
            report = tmp / f"viewers{k}.json"
            reports.append(report)
            v = spawn(pinned("load", [bins["viewers"], "-u", f"ws://127.0.0.1:{vport}/live/{STREAM}", "-n", count, "--slow-frac",
                                      args.slow_frac, "--duration", args.duration, "--warmup", args.warmup, "--ramp-per-s",
                                      args.ramp_per_s / len(view_ports), "--report", report]),
                      stdout=open(tmp / f"viewers{k}.out", "wb"), stderr=subprocess.PIPE)
            viewers_list.append(v)
            evs.append(ViewerEvents(v, vlog))
        viewers, ev = viewers_list[0], evs[0]
        ramp_s = n / args.ramp_per_s
        for e in evs:
            if not e.start.wait(timeout=ramp_s + 25 + args.warmup):
                raise RuntimeError("the viewers never started their steady window (see viewers.log)")
        relay_pids = [tproc.pid] + [p.pid for p, _, _ in edges]
        if any(a for _, _, a in edges):  # how the viewers spread over the pulling edges (reuse_port: the kernel's choice)
            result["viewers_per_edge_at_start"] = [api_viewers(a) for _, _, a in edges]

        def cpu_all():
            vals = [proc_cpu_s(pid) for pid in relay_pids]
            return None if any(v is None for v in vals) else sum(vals)

        # Steady window: sample every second.
        t0 = time.monotonic()
        cpu0 = cpu_all()
        cpu0_each = [proc_cpu_s(pid) for pid in relay_pids]
        pub_cpu0, view_cpu0 = proc_cpu_s(pub.pid), proc_cpu_s(viewers.pid)
        rss_max = hwm = 0
        samples = []
        perf = None
        if args.perf:
            perf_out = OUT / f"perf-{target}-N{n}.data"
            perf = spawn(["perf", "record", "-g", "-o", perf_out, "-p", tproc.pid, "--", "sleep",
                          min(args.perf_seconds, max(1, args.duration - 1))], OUT / "perf.log", tag,
                         stdout=subprocess.DEVNULL)
            result["perf_data"] = str(perf_out)
        deadline = t0 + args.duration + 15
        t_last, cpu_last = t0, cpu0
        while not all(e.end.is_set() for e in evs) and time.monotonic() < deadline:
            ev.end.wait(timeout=1.0)
            now, cpu = time.monotonic(), cpu_all()
            mem = [proc_mem_kb(pid) for pid in relay_pids]
            rss, hwm = sum(m[0] for m in mem), sum(m[1] for m in mem)
            rss_max = max(rss_max, rss)
            if cpu is None or cpu0 is None:
                raise RuntimeError(f"{target} died during the window (see {OUT / (target + '.log')})")
            samples.append(round((cpu - cpu_last) * 1000 / (now - t_last), 1))
            t_last, cpu_last = now, cpu
        t1 = t_last
        cpu1 = cpu_last
        cpu1_each = [proc_cpu_s(pid) for pid in relay_pids]
        pub_cpu1, view_cpu1 = proc_cpu_s(pub.pid), proc_cpu_s(viewers.pid)
        if perf is not None:
            try:
                perf.wait(timeout=args.perf_seconds + 15)
            except subprocess.TimeoutExpired:
                pass
            stop(perf)
        for k, v in enumerate(viewers_list):
            try:
                v.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            stop(v)
            evs[k].thread.join(timeout=5)
            vlog.write((tmp / f"viewers{k}.out").read_bytes())
        vlog.close()
        if not all(r.exists() for r in reports):
            raise RuntimeError("the viewers wrote no report (see viewers.log)")
        reps = [json.loads(r.read_text()) for r in reports]
        rep_json = copy.deepcopy(reps[0])
        if len(reps) > 1:  # edges: the worst latency of any edge's viewers, sums of counts
            rep_json["latency_ms"] = {q: max(r["latency_ms"][q] for r in reps) for q in ("p50", "p99", "max")}
            rep_json["markers"]["lost"] = sum(r["markers"]["lost"] for r in reps)
            rep_json["fast"]["open_in_window"] = sum(r["fast"]["open_in_window"] for r in reps)
            rep_json["fast_rx_bps"] = sum(r["fast_rx_bps"] for r in reps) / len(reps)
            rep_json["per_edge"] = reps
        if tproc.poll() is not None or any(p.poll() is not None for p, _, _ in edges):
            raise RuntimeError(f"{target} (or an edge) exited during the run")

        window = t1 - t0
        cpu_ms_per_s = (cpu1 - cpu0) * 1000 / window if window > 0 else float("nan")
        fast_in_window = rep_json["fast"]["open_in_window"]
        rx_mbps = rep_json["fast_rx_bps"] / 1e6
        egress_mbps = fast_in_window * rx_mbps
        result.update({
            "ok": True,
            "window_s": round(window, 2),
            "cpu_ms_per_s": round(cpu_ms_per_s, 1),
            "cpu_ms_per_s_per_viewer_per_mbps": round(cpu_ms_per_s / egress_mbps, 4) if egress_mbps > 0 else float("nan"),
            "cpu_samples_ms_per_s": samples,
            # each relay's share, the first relay (the origin with edges) first
            "cpu_ms_per_s_each": [round((b - a) * 1000 / window, 1) if a is not None and b is not None and window > 0 else None
                                  for a, b in zip(cpu0_each, cpu1_each)],
            "rss_mb": round(rss_max / 1024, 1),
            "hwm_mb": round(hwm / 1024, 1),
            "p50_ms": round(rep_json["latency_ms"]["p50"], 2),
            "p99_ms": round(rep_json["latency_ms"]["p99"], 2),
            "max_ms": round(rep_json["latency_ms"]["max"], 2),
            "lost": rep_json["markers"]["lost"],
            "join_p50_ms": round(rep_json["join_ms"]["p50"], 1),
            "fast_rx_mbps": round(rx_mbps, 3),
            "publisher_cpu_ms_per_s": round((pub_cpu1 - pub_cpu0) * 1000 / window, 1) if pub_cpu1 is not None else None,
            "viewers_cpu_ms_per_s": round((view_cpu1 - view_cpu0) * 1000 / window, 1) if view_cpu1 is not None else None,
            "loadavg_after": loadavg(),
            "viewers_report": rep_json,
        })
        stop(pub)
    except RuntimeError as e:
        result["error"] = str(e)
        print(f"run.py: {tag}: {e}", file=sys.stderr)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def parse_config(spec, args=None):
    """'floor', 'relay', 'push:K', 'pull:K' or 'reuse:K' → {name, target, edge_kind, edges}. A plain 'relay'
    takes its edges from --edges / --pull-edges / --reuse-port when `args` is given."""
    name, _, k = spec.partition(":")
    if name in ("floor", "relay") and not k:
        if name == "relay" and args is not None and args.pull_edges:
            return {"name": spec, "target": "relay", "edge_kind": "reuse" if args.reuse_port else "pull", "edges": args.pull_edges}
        if name == "relay" and args is not None and args.edges:
            return {"name": spec, "target": "relay", "edge_kind": "push", "edges": args.edges}
        return {"name": spec, "target": name, "edge_kind": None, "edges": 0}
    if name in ("push", "pull", "reuse") and k.isdigit() and 0 < int(k) <= 16:
        return {"name": spec, "target": "relay", "edge_kind": name, "edges": int(k)}
    sys.exit(f"run.py: --configs: {spec!r} is not floor, relay, push:K, pull:K or reuse:K (1 <= K <= 16)")


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 0.1 and v != 0 else f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def emit(result, header_printed):
    row = [fmt(result.get(c, "ERR")) if result["ok"] or c in ("target", "transport", "N", "slow") else "ERR" for c in COLUMNS]
    if not header_printed:
        print("\t".join(COLUMNS))
    print("\t".join(row), flush=True)
    tsv = OUT / "results.tsv"
    new = not tsv.exists()
    with open(tsv, "a") as f:
        if new:
            f.write("\t".join(["time"] + COLUMNS) + "\n")
        f.write("\t".join([result["time"]] + row) + "\n")
    with open(OUT / "runs.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")


def mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")


def plot(results):
    ok = [r for r in results if r["ok"]]
    if not ok:
        print("run.py: nothing to plot", file=sys.stderr)
        return
    if not shutil.which("gnuplot"):
        print("run.py: --plot needs gnuplot: scripts/install-deps.sh --bench (or apt-get install -y gnuplot-nox)",
              file=sys.stderr)
        return
    ns = sorted({r["N"] for r in ok})
    targets = [t for t in ("floor", "relay") if any(r["target"] == t for r in ok)]
    dat = OUT / "fanout.dat"
    with open(dat, "w") as f:
        f.write("# N " + " ".join(f"{t}_cpu_ms_per_s {t}_p99_ms" for t in targets) + "\n")
        for n in ns:
            cols = []
            for t in targets:
                rs = [r for r in ok if r["N"] == n and r["target"] == t]
                cols += [mean([r["cpu_ms_per_s"] for r in rs]), mean([r["p99_ms"] for r in rs])]
            f.write(f"{n} " + " ".join("NaN" if c != c else f"{c:.3f}" for c in cols) + "\n")
    svg = OUT / "fanout.svg"
    cpu_plots = ", ".join(f"'{dat}' using 1:{2 + 2 * i} with linespoints title '{t}'" for i, t in enumerate(targets))
    p99_plots = ", ".join(f"'{dat}' using 1:{3 + 2 * i} with linespoints title '{t}'" for i, t in enumerate(targets))
    script = f"""set terminal svg size 1000,420 dynamic font 'sans,11'
set output '{svg}'
set multiplot layout 1,2 title 'mpegcast fan-out: 1.1 Mbit/s MPEG-1 TS over 127.0.0.1 (mean of repeats)'
set logscale x
set xrange [{min(ns) / 1.5}:{max(ns) * 1.5}]
set xlabel 'viewers (N)'
set grid
set key top left
set ylabel 'target CPU, ms per s'
plot {cpu_plots}
set ylabel 'marker latency p99, ms'
plot {p99_plots}
unset multiplot
"""
    gp = OUT / "fanout.gp"
    gp.write_text(script)
    subprocess.run(["gnuplot", str(gp)], check=True)
    print(f"run.py: wrote {svg}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["relay", "floor"], default="relay")
    ap.add_argument("--viewers", default="10,200,1000,2000", help="comma-separated N values (default 10,200,1000,2000)")
    ap.add_argument("--slow-frac", type=float, default=0.0, help="fraction of viewers that never read (default 0)")
    ap.add_argument("--duration", type=float, default=30.0, help="steady window, s (default 30)")
    ap.add_argument("--warmup", type=float, default=5.0, help="s after all viewers connected (default 5)")
    ap.add_argument("--ramp-per-s", type=float, default=500.0, help="viewer connections per second (default 500)")
    ap.add_argument("--transport", choices=["tcp", "http", "udp"], default="tcp",
                    help="publisher to relay ingest (the floor always takes tcp)")
    ap.add_argument("--relay-arg", action="append", default=[], help="extra relay argument (repeatable; use --relay-arg=--x)")
    ap.add_argument("--relay-bin", help="relay binary (default BUILD_DIR/relay/mpegcast-relay)")
    ap.add_argument("--build-dir", default=str(ROOT / "build-bench"), help="where the binaries are (default build-bench)")
    ap.add_argument("--alternate", action="store_true", help="floor then relay for each N (and each repeat)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per N and target (default 1)")
    ap.add_argument("--publisher-lead", type=float, default=1.5, help="s between publisher and viewers start (default 1.5)")
    ap.add_argument("--pin", action="store_true",
                    help="taskset the target to CPU 0 and the publisher + viewers to CPU 1 (less scheduler noise)")
    ap.add_argument("--perf", action="store_true", help="perf record -g the target during its window (out/perf-TARGET-NN.data; adds CPU)")
    ap.add_argument("--perf-seconds", type=float, default=10.0, help="length of the perf recording (default 10)")
    ap.add_argument("--plot", action="store_true", help="write bench/out/fanout.svg with gnuplot (this invocation's runs)")
    ap.add_argument("--plot-from", metavar="JSONL", help="only plot the runs recorded in JSONL (e.g. bench/out/runs.jsonl) and exit")
    ap.add_argument("--edges", type=int, default=0,
                    help="relay only: K edge relays fed by tcp:// push links from the first; the viewers are split "
                         "over the edges (1 = one cascade hop; CPU and RSS are summed over all relays)")
    ap.add_argument("--coalesce-ms", type=int, default=0, help="relay only: hub.coalesce_ms (default 0)")
    ap.add_argument("--pull-edges", type=int, default=0,
                    help="relay only: K edge relays that pull on demand from the first (relay.conf `pull`); the viewers "
                         "are split over them (1 = one pull hop)")
    ap.add_argument("--reuse-port", action="store_true",
                    help="with --pull-edges: the edges share one viewer port (reuse_port = true, topology 2) and one "
                         "viewers process connects to it; the kernel spreads the viewers")
    ap.add_argument("--configs", metavar="LIST",
                    help="comma-separated configurations run in turn for each N and repeat (A B C A B C ...): floor, relay "
                         "(one relay), push:K, pull:K, reuse:K (K edges fed by push, pulling, pulling on one shared "
                         "port); overrides --target, --alternate and the edge options")
    args = ap.parse_args()

    if args.plot_from:
        with open(args.plot_from) as f:
            plot([r for r in map(json.loads, f) if r.get("ok") and r.get("slow", 0) == 0])
        return
    ns = [int(x) for x in args.viewers.split(",") if x.strip()]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the target and the viewers
    if hard < max(ns) + 200:
        sys.exit(f"run.py: RLIMIT_NOFILE hard limit {hard} is too low for {max(ns)} viewers")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(stop_all)

    bins = binaries(args)
    args.bins = bins
    if args.pin:
        if os.cpu_count() < 2 or not shutil.which("taskset"):
            sys.exit("run.py: --pin needs 2 CPUs and taskset (util-linux)")
        PIN.update({"target": "0", "load": "1"})
    ensure_input(args)
    if args.configs:
        configs = [parse_config(x.strip()) for x in args.configs.split(",") if x.strip()]
    else:
        configs = [parse_config(t, args) for t in (["floor", "relay"] if args.alternate else [args.target])]
    results = []
    header = False
    for n in ns:
        for rep in range(args.repeat):
            for config in configs:
                transport = "tcp" if config["target"] == "floor" else args.transport
                r = run_one(args, bins, config, transport, n, rep)
                results.append(r)
                emit(r, header)
                header = True
    if args.configs:
        print("N\tconfig\truns\tcpu_ms_per_s (mean)\tp50_ms (mean)\tp99_ms (mean)\tlost")
        for n in ns:
            for c in configs:
                rs = [r for r in results if r["ok"] and r["N"] == n and r["config"] == c["name"]]
                print(f"{n}\t{c['name']}\t{len(rs)}\t{fmt(mean([r['cpu_ms_per_s'] for r in rs]))}\t"
                      f"{fmt(mean([r['p50_ms'] for r in rs]))}\t{fmt(mean([r['p99_ms'] for r in rs]))}\t"
                      f"{sum(r['lost'] for r in rs)}")
    elif args.alternate:
        print("N\trelay/floor cpu ratio (mean over repeats)")
        for n in ns:
            f = mean([r["cpu_ms_per_s"] for r in results if r["ok"] and r["N"] == n and r["target"] == "floor"])
            rl = mean([r["cpu_ms_per_s"] for r in results if r["ok"] and r["N"] == n and r["target"] == "relay"])
            print(f"{n}\t{rl / f:.2f}" if f == f and rl == rl and f > 0 else f"{n}\t-")
    if args.plot:
        plot(results)


if __name__ == "__main__":
    main()
