// What the Node tests of tests/browser/ share: options, checks and their report, child processes (relay, capture
// agent) with logs in the artifacts folder, free ports, JSON over HTTP, and a bare WebSocket viewer.
//
// A test: const t = harness('browser_dashboard', extraOptions); … t.check(name, ok, detail) …; await t.finish(main).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

export class Fatal extends Error {}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const COMMON_OPTIONS = {
  relay: { type: 'string', default: process.env.MPEGCAST_RELAY_BIN },
  capture: { type: 'string', default: process.env.MPEGCAST_CAPTURE_BIN },
  'capture-conf': { type: 'string', default: process.env.MPEGCAST_CAPTURE_CONF },
  'web-root': { type: 'string', default: process.env.MPEGCAST_WEB_ROOT },
  schema: { type: 'string', default: process.env.MPEGCAST_API_SCHEMA },
  artifacts: { type: 'string', default: process.env.MPEGCAST_ARTIFACT_DIR || path.join(os.tmpdir(), 'mpegcast-artifacts') },
  chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
};

export function harness(name, { deadlineMs = 110_000 } = {}) {
  const { values: opt } = parseArgs({ options: COMMON_OPTIONS, strict: false });
  const t0 = Date.now();
  const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
  const results = [];
  const children = new Set();
  fs.mkdirSync(opt.artifacts, { recursive: true });

  function check(what, ok, detail) {
    results.push({ name: what, ok: !!ok, detail });
    log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${detail}`);
    return !!ok;
  }

  function need(...keys) {
    for (const key of keys) {
      if (!opt[key]) throw new Fatal(`missing --${key}`);
      if (!fs.existsSync(opt[key])) throw new Fatal(`--${key} not found: ${opt[key]}`);
    }
  }

  // Starts a program; stdout+stderr go to ARTIFACTS/<name>_<tag>.log.
  function start(tag, bin, args) {
    const logPath = path.join(opt.artifacts, `${name}_${tag}.log`);
    const out = fs.createWriteStream(logPath);
    out.write(`### ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { tag, child, logPath, tail: [], exited: false, code: null, lines: new Set() };
    const onData = (chunk) => {
      out.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        proc.tail.push(line);
        if (proc.tail.length > 50) proc.tail.shift();
        for (const l of proc.lines) l(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => { proc.exited = true; out.write(`spawn error: ${e.message}\n`); });
    child.on('exit', (code, signal) => {
      proc.exited = true;
      proc.code = code;
      out.write(`### exited code=${code} signal=${signal}\n`);
      out.end();
      children.delete(proc);
    });
    children.add(proc);
    return proc;
  }

  function waitForLine(proc, re, timeoutMs) {
    return new Promise((resolve, reject) => {
      if (proc.tail.some((l) => re.test(l))) { resolve(); return; }
      const timer = setTimeout(() => { done(); reject(new Fatal(`${proc.tag}: no line matching ${re} within ${timeoutMs} ms (${proc.logPath})`)); }, timeoutMs);
      const onLine = (line) => { if (re.test(line)) { done(); resolve(); } };
      const onExit = () => { done(); reject(new Fatal(`${proc.tag} exited before ${re} (${proc.logPath})`)); };
      function done() { clearTimeout(timer); proc.lines.delete(onLine); proc.child.off('exit', onExit); }
      proc.lines.add(onLine);
      proc.child.on('exit', onExit);
    });
  }

  async function stop(proc, signal = 'SIGTERM') {
    if (!proc || proc.exited) return;
    const exited = once(proc.child, 'exit');
    proc.child.kill(signal);
    if ((await Promise.race([exited, sleep(3000).then(() => 'timeout')])) === 'timeout' && !proc.exited) {
      proc.child.kill('SIGKILL');
      await exited;
    }
  }

  // A relay with `confText` as its config on free loopback ports; resolves once it is ready.
  async function relay(tag, confText) {
    need('relay', 'web-root');
    const viewPort = await freePort();
    let ingestPort = await freePort();
    while (ingestPort === viewPort) ingestPort = await freePort();
    const conf = path.join(opt.artifacts, `${name}_${tag}.conf`);
    fs.writeFileSync(conf, confText);
    const r = { tag, viewPort, ingestPort, base: `http://127.0.0.1:${viewPort}`, conf };
    r.start = async () => {
      r.proc = start(tag, opt.relay, ['-c', conf, '--listen', `127.0.0.1:${viewPort}`, '--ingest-listen',
        `127.0.0.1:${ingestPort}`, '--web-root', opt['web-root']]);
      await waitForLine(r.proc, /ready/, 10_000);
      return r;
    };
    return r.start();
  }

  // A capture agent publishing a lavfi test pattern to `stream` on relay `r`.
  function capture(tag, r, stream, input = 'lavfi:testsrc2=size=640x480:rate=25') {
    need('capture', 'capture-conf');
    return start(tag, opt.capture, ['-c', opt['capture-conf'], '--input', input, '--target',
      `http://127.0.0.1:${r.ingestPort}/publish/${stream}`]);
  }

  function killAllNow() {
    for (const p of children) { try { p.child.kill('SIGKILL'); } catch { /* gone */ } }
  }
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { killAllNow(); process.exit(1); });

  async function finish(main) {
    const deadline = setTimeout(() => { log(`deadline of ${deadlineMs / 1000} s reached`); console.log(`${name}: FAIL (timed out)`); killAllNow(); process.exit(1); }, deadlineMs);
    let fatal = null;
    try {
      await main();
    } catch (e) {
      fatal = e;
      log(`FAIL: ${e instanceof Fatal ? e.message : e.stack || e}`);
    }
    clearTimeout(deadline);
    await Promise.all([...children].map((p) => stop(p)));
    const failed = results.filter((r) => !r.ok);
    const passed = results.length - failed.length;
    console.log(`${name}: ${fatal || failed.length ? 'FAIL' : 'PASS'}: ${passed} of ${results.length} checks passed` +
      (failed.length ? ` (failed: ${failed.map((r) => r.name).join(', ')})` : '') + (fatal ? ` (stopped: ${fatal.message})` : ''));
    console.log(`artifacts: ${opt.artifacts}`);
    process.exit(fatal || failed.length ? 1 : 0);
  }

  return { opt, log, check, need, start, stop, relay, capture, waitForLine, finish, artifacts: opt.artifacts };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// GET as JSON (with the response's status and headers); throws on a network error or a non-JSON body.
export async function getJson(url, init = {}) {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000), ...init });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new Error(`${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 120)}`); }
  return { status: res.status, headers: res.headers, body };
}

export async function waitFor(what, fn, timeoutMs, intervalMs = 200) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() > until) throw new Fatal(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${last.message})` : ''}`);
    await sleep(intervalMs);
  }
}

// A WebSocket viewer of ws://127.0.0.1:port/path that counts the bytes it receives (frames unparsed).
export function wsViewer(port, pathName) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const v = { sock, bytes: 0, open: false, close: () => sock.destroy() };
    let head = Buffer.alloc(0);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('WebSocket handshake timed out')); });
    sock.on('connect', () => {
      sock.write(`GET ${pathName} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on('data', (chunk) => {
      if (v.open) { v.bytes += chunk.length; return; }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!/^HTTP\/1\.1 101/.test(head.toString('latin1', 0, 12))) { sock.destroy(); reject(new Error(`handshake: ${head.toString('latin1', 0, 40)}`)); return; }
      v.open = true;
      sock.setTimeout(0);
      v.bytes += head.length - end - 4;
      resolve(v);
    });
    sock.on('error', (e) => { if (!v.open) reject(e); });
  });
}

// Counts the bytes of GET url (HTTP-TS) between `fromMs` and `toMs` after the response starts: the encoder's
// output rate as a viewer receives it, after the GOP cache's burst. Resolves { bytes, seconds, bps }.
export function measureHttpTs(url, fromMs, toMs) {
  return new Promise((resolve, reject) => {
    const ctrl = new AbortController();
    fetch(url, { signal: ctrl.signal }).then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.getReader();
      const t0 = Date.now();
      let bytes = 0; let from = null;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const t = Date.now() - t0;
        if (t >= fromMs && from === null) from = Date.now();
        if (from !== null) bytes += value.length;
        if (t >= toMs) break;
      }
      const seconds = (Date.now() - from) / 1000;
      ctrl.abort();
      resolve({ bytes, seconds, bps: bytes * 8 / seconds });
    }).catch(reject);
  });
}
