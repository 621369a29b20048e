#!/usr/bin/env node
// Glass-to-glass latency benchmark (issue 11; never run by CI). Two pipelines, alternating in adjacent pairs:
//
//   agent:  barcode_source.py → FIFO → mpegcast-capture (--input pipe:FIFO) → HTTP POST → mpegcast-relay
//           → ws://…/live/cam1 → player.html (served by the relay) in headless Chromium
//   jsmpeg: barcode_source.py → FIFO → ffmpeg (JSMpeg README flags) → HTTP POST → JSMpeg's websocket-relay.js
//           (fetched once into bench/out/, on 127.0.0.1) → ws://… → the same player.html files (served to Chromium by
//           page.route from the same build's web root, on the websocket-relay's own origin)
//
// The source paints CLOCK_REALTIME (10 µs units) into every picture as a barcode (barcode_source.py). The page
// reads it from the decoded Y plane inside JSMpeg's onVideoDecode callback (player.video.onDecodeCallback, the
// callback player.js passes as onVideoDecode, wrapped) and records performance.timeOrigin + performance.now()
// − paint time. It also records the arrival time of the last WebSocket message before each decode, which
// splits the total into "to the browser" and "waiting in the browser" (for the next animation frame: JSMpeg
// decodes in requestAnimationFrame). Both clocks are this machine's CLOCK_REALTIME.
//
// node bench/capture/latency.mjs --build-dir build-bench [--pairs 3] [--seconds 60] [--warmup 5]
//        [--order agent,jsmpeg] [--out bench/out/capture-latency] [--chromium /usr/bin/chromium]
// One line per run on stdout, a table at the end, every run's record (samples included) in OUT/runs.jsonl.
// Everything it starts is stopped by pid; the whole run has a deadline (pairs × 2 × (seconds + 40 s)).

import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const { values: opt } = parseArgs({
  options: {
    'build-dir': { type: 'string', default: path.join(REPO, 'build-bench') },
    pairs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    order: { type: 'string', default: 'agent,jsmpeg' },
    out: { type: 'string', default: path.join(REPO, 'bench/out/capture-latency') },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    ffmpeg: { type: 'string', default: 'ffmpeg' },
  },
});
const PAIRS = Math.min(20, Math.max(1, Number(opt.pairs)));
const SECONDS = Math.min(1800, Math.max(5, Number(opt.seconds)));
const WARMUP = Math.min(60, Math.max(0, Number(opt.warmup)));
const ORDER = opt.order.split(',');
const BUILD = path.resolve(opt['build-dir']);

// The comparison's relay: JSMpeg's websocket-relay.js, fetched once (pinned commit, checked by SHA-256) rather
// than kept in this repository.
const RELAY_JS_URL = 'https://raw.githubusercontent.com/phoboslab/jsmpeg/924acfbd96fdf15e6748d1368a36d79d8f4cecf6/websocket-relay.js';
const RELAY_JS_SHA256 = 'b1b76c59c0029110f7cf1bcee4728ecfa0087f5e3189262c206f3cf0282082f1';
async function relayJs() {
  const file = path.join(REPO, 'bench', 'out', 'websocket-relay.js');
  if (!fs.existsSync(file)) {
    const res = await fetch(RELAY_JS_URL);
    if (!res.ok) throw new Error(`${RELAY_JS_URL}: HTTP ${res.status}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  }
  const { createHash } = await import('node:crypto');
  const sum = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  if (sum !== RELAY_JS_SHA256) throw new Error(`${file}: SHA-256 ${sum}, expected ${RELAY_JS_SHA256} (delete it to fetch again)`);
  return file;
}
const WEB_ROOT = path.join(BUILD, 'web');
const STREAM = 'cam1';
const SECRET = 'benchsecret';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
fs.mkdirSync(opt.out, { recursive: true });
const t0 = Date.now();
const log = (msg) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

const deadline = setTimeout(() => { log('deadline reached'); killAll(); process.exit(1); },
  PAIRS * ORDER.length * (SECONDS + WARMUP + 40) * 1000);
deadline.unref();

// ------------------------------------------------------------------------------------------------ processes
const children = new Set();
function start(tag, bin, args, opts = {}) {
  const logPath = path.join(opt.out, `${tag}.log`);
  const out = fs.openSync(logPath, 'a');
  fs.writeSync(out, `=== ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  const child = spawn(bin, args, { stdio: ['ignore', out, out], ...opts });
  fs.closeSync(out);
  const p = { tag, child, exited: false, code: null };
  child.on('exit', (code, sig) => { p.exited = true; p.code = code ?? sig; children.delete(p); });
  children.add(p);
  return p;
}
async function stop(p) {
  if (!p || p.exited) return;
  const exited = once(p.child, 'exit');
  p.child.kill('SIGTERM');
  if ((await Promise.race([exited, sleep(3000).then(() => 'timeout')])) === 'timeout' && !p.exited) {
    p.child.kill('SIGKILL');
    await exited;
  }
}
function killAll() { for (const p of children) { try { p.child.kill('SIGKILL'); } catch { /* gone */ } } }
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}
async function twoPorts() {
  for (let i = 0; i < 20; i++) {
    const a = await freePort(); const b = await freePort();
    if (a !== b) return [a, b];
  }
  throw new Error('no two free ports');
}
async function waitPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} did not answer within ${ms} ms`);
}

// --------------------------------------------------------------------------------------------------- page
// Installed in the page once JSMpeg's player exists: wraps the video decoder's onDecodeCallback.
function installProbe() {
  const m = window.mpegcast;
  const player = m.player;
  const video = player.video;
  const probe = { samples: [], bad: 0, lastMsg: 0, msgs: 0, stalls: [] };
  window.latencyProbe = probe;
  // Main-thread stalls: a 10 ms timer that fires > 50 ms late means the page could neither take WebSocket
  // messages nor decode for that long (a starved or busy renderer, not the network).
  let tick = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - tick > 50) probe.stalls.push([performance.timeOrigin + tick, now - tick]);
    tick = now;
  }, 10);
  const sock = player.source.socket;
  if (sock) sock.addEventListener('message', () => { probe.lastMsg = performance.timeOrigin + performance.now(); probe.msgs += 1; });
  const inner = video.onDecodeCallback;
  video.onDecodeCallback = function (decoder, elapsed) {
    const now = performance.timeOrigin + performance.now();
    let y; let stride;
    if (decoder.functions) {   // WASM decoder: the picture just decoded
      const ptr = decoder.functions._mpeg1_decoder_get_y_ptr(decoder.decoder);
      y = decoder.instance.heapU8.subarray(ptr, ptr + decoder.codedSize);
      stride = decoder.codedSize / (((decoder.functions._mpeg1_decoder_get_height(decoder.decoder) + 15) >> 4) << 4);
    } else {                   // JS decoder: no B-frames, so the picture just decoded is the forward reference
      y = decoder.forwardY; stride = decoder.codedWidth;
    }
    let v = 0n;
    for (let i = 0; i < 40; i++) {
      const o = 16 * stride + 16 * i + 8;
      const px = (y[o] + y[o + 1] + y[o + stride] + y[o + stride + 1]) / 4;
      v = (v << 1n) | (px > 128 ? 1n : 0n);
    }
    const t = Number(v >> 8n); const check = Number(v & 255n);
    if ((((t >>> 24) ^ (t >>> 16) ^ (t >>> 8) ^ t ^ 0xA5) & 255) !== check) {
      probe.bad += 1;
    } else {
      const now10 = Math.floor(now * 100);                         // 10 µs units
      const paint10 = now10 - (((now10 - t) % 2 ** 32) + 2 ** 32) % 2 ** 32;
      const paint = paint10 / 100;
      probe.samples.push([now, now - paint, probe.lastMsg - paint, elapsed]);
    }
    if (inner) inner.call(this, decoder, elapsed);
  };
}

// --------------------------------------------------------------------------------------------------- runs
function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] };
}
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim();

async function runOne(kind, pair) {
  const tag = `${kind}-${pair}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpegcast-latency-'));
  const fifo = path.join(dir, 'source.y4m');
  execFileSync('mkfifo', [fifo]);
  const [viewPort, ingestPort] = await twoPorts();
  const procs = [];
  let context = null;
  const record = { time: new Date().toISOString(), kind, pair, seconds: SECONDS, warmup: WARMUP, loadavg_before: loadavg() };
  try {
    // Server first, then the source (it blocks in open() until the encoder opens the FIFO), then the encoder.
    if (kind === 'agent') {
      const conf = path.join(dir, 'relay.conf');
      fs.writeFileSync(conf, '# all defaults\n');
      procs.push(start(`relay-${tag}`, path.join(BUILD, 'relay/mpegcast-relay'), ['-c', conf, '--listen', `127.0.0.1:${viewPort}`,
        '--ingest-listen', `127.0.0.1:${ingestPort}`, '--web-root', WEB_ROOT]));
    } else {
      procs.push(start(`wsrelay-${tag}`, process.execPath, [path.join(HERE, 'jsmpeg_relay_loopback.cjs'), SECRET, String(ingestPort), String(viewPort)],
        { env: { ...process.env, RELAY_JS: await relayJs() } }));
    }
    await waitPort(viewPort, 10_000);
    await waitPort(ingestPort, 10_000);
    const total = WARMUP + SECONDS + 15;
    procs.push(start(`source-${tag}`, '/usr/bin/python3', [path.join(HERE, 'barcode_source.py'), '--out', fifo, '--seconds', String(total)]));
    if (kind === 'agent') {
      record.encoder_cmd = [path.join(BUILD, 'capture/mpegcast-capture'), '-c', path.join(REPO, 'conf/capture.conf'), '--input', `pipe:${fifo}`,
        '--target', `http://127.0.0.1:${ingestPort}/publish/${STREAM}`];
    } else {
      record.encoder_cmd = [opt.ffmpeg, '-hide_banner', '-nostdin', '-loglevel', 'warning', '-f', 'yuv4mpegpipe', '-i', fifo,
        '-f', 'mpegts', '-codec:v', 'mpeg1video', '-s', '640x480', '-b:v', '1000k', '-bf', '0', `http://127.0.0.1:${ingestPort}/${SECRET}`];
    }
    procs.push(start(`encoder-${tag}`, record.encoder_cmd[0], record.encoder_cmd.slice(1)));
    await sleep(2000);   // the relay holds a keyframe; the encoder is past its start

    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mpegcast-latency-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opt.chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // The jsmpeg page comes from page.route, which Chromium treats as a public origin: let it reach 127.0.0.1.
        '--disable-features=LocalNetworkAccessChecks'],
      viewport: { width: 800, height: 640 },
      timeout: 30_000,
    });
    context.profileDir = profile;
    const page = await context.newPage();
    const origin = `http://127.0.0.1:${viewPort}`;
    if (kind === 'jsmpeg') {
      // websocket-relay.js serves no files: hand Chromium the same build's web root on the relay's origin, so
      // player.js connects to ws://127.0.0.1:PORT/live/cam1 there (websocket-relay.js takes any path).
      await page.route(`${origin}/**`, (route) => {
        const rel = decodeURIComponent(new URL(route.request().url()).pathname).replace(/^\/+/, '');
        const file = path.join(WEB_ROOT, rel);
        if (!file.startsWith(WEB_ROOT) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
        const type = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' }[path.extname(file)] || 'application/octet-stream';
        return route.fulfill({ status: 200, contentType: type, body: fs.readFileSync(file) });
      });
    }
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (msg) => { if (msg.type() === 'error' || msg.type() === 'warning') errors.push(`console: ${msg.text()}`); });
    // wasm=1: the WASM decoder in both pipelines (what player.js picks under the relay's CSP).
    await page.goto(`${origin}/player.html?stream=${STREAM}&wasm=1`, { waitUntil: 'domcontentloaded', timeout: 15_000 });
    await page.waitForFunction(() => window.mpegcast && window.mpegcast.player && window.mpegcast.player.video &&
      window.mpegcast.player.source && window.mpegcast.player.source.socket, null, { timeout: 15_000 });
    await page.evaluate(installProbe);
    await page.waitForFunction(() => window.latencyProbe.samples.length > 0, null, { timeout: 20_000 }).catch(async (e) => {
      e.pageErrors = [...errors, JSON.stringify(await page.evaluate(() => ({ state: window.mpegcast.state, msgs: window.latencyProbe.msgs,
        bad: window.latencyProbe.bad, decoded: window.mpegcast.decodedFrames, bytes: window.mpegcast.bytesReceived })))];
      throw e;
    });
    const firstAt = Date.now();
    await sleep((WARMUP + SECONDS) * 1000);
    const got = await page.evaluate(() => ({ probe: window.latencyProbe, m: {
      decoder: window.mpegcast.decoder, renderer: window.mpegcast.renderer, decodedFrames: window.mpegcast.decodedFrames,
      lateFrames: window.mpegcast.lateFrames, droppedFrames: window.mpegcast.droppedFrames, reconnects: window.mpegcast.reconnects,
      picturesReceived: window.mpegcast.picturesReceived } }));
    const from = firstAt + WARMUP * 1000;
    const window_ = got.probe.samples.filter((s) => s[0] >= from);
    record.samples = window_.map((s) => [Math.round(s[0]), +s[1].toFixed(2), +s[2].toFixed(2), +s[3].toFixed(2)]);
    record.total_ms = stats(window_.map((s) => s[1]));
    record.to_browser_ms = stats(window_.map((s) => s[2]));
    record.in_browser_ms = stats(window_.map((s) => s[1] - s[2]));
    record.decode_ms = stats(window_.map((s) => s[3]));
    record.bad_barcodes = got.probe.bad;
    record.over_30_ms = window_.filter((s) => s[1] > 30).length;
    const stalls = got.probe.stalls.filter((st) => st[0] >= from);
    record.main_thread_stalls = { n: stalls.length, total_ms: Math.round(stalls.reduce((a, st) => a + st[1], 0)),
      max_ms: Math.round(Math.max(0, ...stalls.map((st) => st[1]))) };
    // Samples over 30 ms decoded within 1 s after a main-thread stall began.
    record.over_30_ms_after_stall = window_.filter((x) => x[1] > 30 && stalls.some((st) => x[0] >= st[0] && x[0] - st[0] < 1000)).length;
    record.ws_messages = got.probe.msgs;
    record.player = got.m;
    record.page_errors = errors;
    record.window_s = window_.length ? (window_[window_.length - 1][0] - window_[0][0]) / 1000 : 0;
    record.exited_early = procs.filter((p) => p.exited).map((p) => `${p.tag}:${p.code}`);
  } finally {
    record.loadavg_after = loadavg();
    if (context) {
      await context.close().catch(() => {});
      fs.rmSync(context.profileDir, { recursive: true, force: true });
    }
    for (const p of procs.reverse()) await stop(p);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return record;
}

const fmt = (s) => `${s.p50.toFixed(1)} / ${s.p90.toFixed(1)} / ${s.p99.toFixed(1)} / ${s.max.toFixed(1)}`;
const records = [];
log(`pairs ${PAIRS} × [${ORDER.join(', ')}], ${SECONDS} s each after ${WARMUP} s warmup; loadavg ${loadavg()}`);
for (let pair = 1; pair <= PAIRS; pair++) {
  for (const kind of ORDER) {
    let r;
    try {
      r = await runOne(kind, pair);
    } catch (e) {
      log(`${kind} pair ${pair}: FAILED: ${e.message}${e.pageErrors ? ` (page: ${e.pageErrors.join('; ')})` : ''}`);
      continue;
    }
    fs.appendFileSync(path.join(opt.out, 'runs.jsonl'), JSON.stringify(r) + '\n');
    records.push(r);
    console.log(`${kind.padEnd(6)} pair ${pair}: n ${r.total_ms.n}, total p50/p90/p99/max ${fmt(r.total_ms)} ms; to browser ${fmt(r.to_browser_ms)}; ` +
      `in browser ${fmt(r.in_browser_ms)}; > 30 ms ${r.over_30_ms} (${r.over_30_ms_after_stall} within 1 s of a page stall); page stalls > 50 ms ${r.main_thread_stalls.n} (${r.main_thread_stalls.total_ms} ms, max ${r.main_thread_stalls.max_ms}); bad barcodes ${r.bad_barcodes}; late ${r.player.lateFrames}; ${r.player.decoder}/${r.player.renderer}; ` +
      `load ${r.loadavg_before} → ${r.loadavg_after}${r.exited_early.length ? `; EXITED EARLY ${r.exited_early}` : ''}`);
  }
}
console.log('\npipeline | runs | samples | total p50 / p90 / p99 / max ms | to browser p50 / p90 / p99 / max | in browser p50 / p90 / p99 / max');
for (const kind of ORDER) {
  const rs = records.filter((r) => r.kind === kind);
  if (!rs.length) continue;
  const all = rs.flatMap((r) => r.samples);
  console.log(`${kind} | ${rs.length} | ${all.length} | ${fmt(stats(all.map((s) => s[1])))} | ${fmt(stats(all.map((s) => s[2])))} | ` +
    `${fmt(stats(all.map((s) => s[1] - s[2])))}`);
}
clearTimeout(deadline);
