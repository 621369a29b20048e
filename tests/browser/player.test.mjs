#!/usr/bin/env node
// Browser test of the mpegcast player: real relay + real capture agent on loopback ports, headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core; no browser download).
//
// node player.test.mjs --relay BIN --capture BIN --relay-conf FILE --capture-conf FILE \
//                      --web-root DIR --artifacts DIR [--chromium /usr/bin/chromium] [--seconds 3]
// Every option can also come from the environment: MPEGCAST_RELAY_BIN, MPEGCAST_CAPTURE_BIN,
// MPEGCAST_RELAY_CONF, MPEGCAST_CAPTURE_CONF, MPEGCAST_WEB_ROOT, MPEGCAST_ARTIFACT_DIR, CHROMIUM.
//
// Checks:
//  1. player.html?stream=cam1 decodes steadily: >= 20 onVideoDecode calls per second over 3 s (25 fps source);
//  2. the canvas is a picture, not one colour (screenshot saved as browser_player_canvas.png);
//  3. index.html lists cam1 with a link to its player;
//  4. no console message about the Content-Security-Policy, no uncaught page error;
//  5. the player reconnects by itself when the relay restarts (state goes back to live, decoding resumes).
// Both processes are killed at the end, pass or fail. Exit status 0 only if every check passed.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const NAME = 'browser_player';
const STREAM = 'cam1';
const MIN_DECODE_FPS = 20;
const DEADLINE_MS = 110_000;      // ctest's TIMEOUT is 120 s: leave time to clean up

const { values: opt } = parseArgs({
  options: {
    relay: { type: 'string', default: process.env.MPEGCAST_RELAY_BIN },
    capture: { type: 'string', default: process.env.MPEGCAST_CAPTURE_BIN },
    'relay-conf': { type: 'string', default: process.env.MPEGCAST_RELAY_CONF },
    'capture-conf': { type: 'string', default: process.env.MPEGCAST_CAPTURE_CONF },
    'web-root': { type: 'string', default: process.env.MPEGCAST_WEB_ROOT },
    artifacts: { type: 'string', default: process.env.MPEGCAST_ARTIFACT_DIR || path.join(os.tmpdir(), 'mpegcast-artifacts') },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    seconds: { type: 'string', default: '3' },
    'no-reconnect': { type: 'boolean', default: false },
  },
});

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const results = [];   // { name, ok, detail }
function check(name, ok, detail) {
  results.push({ name, ok, detail });
  log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  return ok;
}

class Fatal extends Error {}

// ---------------------------------------------------------------------------------------------- processes

const children = new Set();

function freePort() {
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

async function twoFreePorts() {
  for (;;) {
    const a = await freePort();
    const b = await freePort();
    if (a !== b) return [a, b];
  }
}

// Starts a program, copies its stdout+stderr to ARTIFACTS/<tag>.log, keeps a tail for the report.
function start(tag, bin, args) {
  fs.mkdirSync(opt.artifacts, { recursive: true });
  const logPath = path.join(opt.artifacts, `${NAME}_${tag}.log`);
  const out = fs.createWriteStream(logPath, { flags: 'a' });
  out.write(`### ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  log(`start ${tag}: ${path.basename(bin)} ${args.join(' ')}`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { tag, child, logPath, tail: [], exited: false, code: null, signal: null, lines: new Set() };
  const onData = (chunk) => {
    out.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      proc.tail.push(line);
      if (proc.tail.length > 30) proc.tail.shift();
      for (const listener of proc.lines) listener(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('error', (e) => { proc.error = e; proc.exited = true; out.write(`spawn error: ${e.message}\n`); });
  child.on('exit', (code, signal) => {
    proc.exited = true;
    proc.code = code;
    proc.signal = signal;
    out.write(`### exited code=${code} signal=${signal}\n`);
    out.end();
    children.delete(proc);
  });
  children.add(proc);
  return proc;
}

function waitForLine(proc, re, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Fatal(`${proc.tag}: no line matching ${re} within ${timeoutMs / 1000} s`)); }, timeoutMs);
    const onLine = (line) => { if (re.test(line)) { cleanup(); resolve(line); } };
    const onExit = (code, signal) => { cleanup(); reject(new Fatal(`${proc.tag} exited (code ${code}, signal ${signal}) before printing ${re}`)); };
    const onError = (e) => { cleanup(); reject(new Fatal(`${proc.tag} could not start: ${e.message}`)); };
    function cleanup() {
      clearTimeout(timer);
      proc.lines.delete(onLine);
      proc.child.off('exit', onExit);
      proc.child.off('error', onError);
    }
    if (proc.exited) { onExit(proc.code, proc.signal); return; }
    proc.lines.add(onLine);
    proc.child.on('exit', onExit);
    proc.child.on('error', onError);
    for (const line of proc.tail) if (re.test(line)) { cleanup(); resolve(line); return; }
  });
}

async function stop(proc, graceMs = 3000) {
  if (!proc || proc.exited) return;
  const exited = once(proc.child, 'exit');
  proc.child.kill('SIGTERM');
  const timer = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([exited, timer])) === 'timeout' && !proc.exited) {
    log(`${proc.tag} ignored SIGTERM for ${graceMs / 1000} s: SIGKILL`);
    proc.child.kill('SIGKILL');
    await exited;
  }
}

// Last resort (uncaught exception, signal): kill synchronously whatever is left.
function killAllNow() {
  for (const p of children) {
    try { p.child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { log(`got ${sig}: stopping`); killAllNow(); process.exit(1); });
}

// ---------------------------------------------------------------------------------------------- helpers

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

async function waitFor(what, fn, timeoutMs, intervalMs = 200) {
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

// Mean, standard deviation and number of distinct (quantised) colours of a PNG, decoded by the browser.
async function pixelStats(page, png) {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let n = 0; let sum = 0; let sum2 = 0;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      sum += y; sum2 += y * y; n += 1;
      colours.add(((data[i] >> 4) << 8) | ((data[i + 1] >> 4) << 4) | (data[i + 2] >> 4));
    }
    const mean = sum / n;
    return { width: c.width, height: c.height, mean, stddev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), colours: colours.size };
  }, png.toString('base64'));
}

const playerState = (page) => page.evaluate(() => {
  const m = window.mpegcast || {};
  return {
    state: m.state, decodedFrames: m.decodedFrames, fps: m.fps, opens: m.opens, closes: m.closes,
    connects: m.connects, bytesReceived: m.bytesReceived, width: m.width, height: m.height,
    decoder: m.decoder, renderer: m.renderer, error: m.error, status: document.getElementById('status')?.textContent,
  };
});

// ---------------------------------------------------------------------------------------------- the test

async function main() {
  for (const [key, what] of [['relay', 'relay binary'], ['capture', 'capture binary'], ['relay-conf', 'relay config'],
    ['capture-conf', 'capture config'], ['web-root', 'web root'], ['chromium', 'Chromium']]) {
    if (!opt[key]) throw new Fatal(`missing --${key} (${what})`);
    if (!fs.existsSync(opt[key])) throw new Fatal(`${what} not found: ${opt[key]}`);
  }
  for (const f of ['player.html', 'player.js', 'index.html', 'vendor/jsmpeg.min.js']) {
    if (!fs.existsSync(path.join(opt['web-root'], f))) throw new Fatal(`web root ${opt['web-root']} has no ${f} (build the 'web' target)`);
  }
  fs.mkdirSync(opt.artifacts, { recursive: true });
  for (const tag of ['relay', 'capture']) fs.rmSync(path.join(opt.artifacts, `${NAME}_${tag}.log`), { force: true });

  const [viewPort, ingestPort] = await twoFreePorts();
  const base = `http://127.0.0.1:${viewPort}`;
  const relayArgs = ['-c', opt['relay-conf'], '--listen', `127.0.0.1:${viewPort}`,
    '--ingest-listen', `127.0.0.1:${ingestPort}`, '--web-root', opt['web-root']];
  const captureArgs = ['-c', opt['capture-conf'], '--input', 'lavfi:testsrc2=size=640x480:rate=25',
    '--target', `http://127.0.0.1:${ingestPort}/publish/${STREAM}`];

  const state = { relay: null, capture: null, context: null, profile: null };
  try {
    state.relay = start('relay', opt.relay, relayArgs);
    await waitForLine(state.relay, /ready/, 15_000);
    state.capture = start('capture', opt.capture, captureArgs);

    // The relay knows cam1 once the capture agent publishes (not a check of its own: the player check follows).
    await waitFor(`${STREAM} to have a publisher in /api/v1/streams`, async () => {
      if (state.capture.exited) throw new Fatal(`capture exited early (code ${state.capture.code})`);
      const body = await getJson(`${base}/api/v1/streams`);
      const s = (body.streams || []).find((x) => x.name === STREAM);
      return s && s.publisher && s.bytes_in > 0;
    }, 20_000).catch((e) => {
      if (state.capture.exited) throw new Fatal(`mpegcast-capture exited early (code ${state.capture.code}); see ${state.capture.logPath}`);
      log(`warning: ${e.message} (going on with the player)`);
    });

    state.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mpegcast-chromium-'));
    state.context = await chromium.launchPersistentContext(state.profile, {
      executablePath: opt.chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 800, height: 640 },
      timeout: 30_000,
    });
    log(`chromium ${state.context.browser()?.version() ?? ''} started (profile ${state.profile})`);

    const cspMessages = [];      // the page's CSP refused something
    const refusals = [];         // something else was refused (e.g. a wrong MIME type under nosniff)
    const pageErrors = [];
    const consoleErrors = [];
    const watch = (page, tag) => {
      page.on('console', (msg) => {
        const text = msg.text();
        if (/content.security.policy/i.test(text)) {
          cspMessages.push(`${tag}: ${text}`);
        } else if (/refused to /i.test(text)) {
          refusals.push(`${tag}: ${text}`);
        }
        if (msg.type() === 'error') consoleErrors.push(`${tag}: ${text}`);
      });
      page.on('pageerror', (err) => pageErrors.push(`${tag}: ${err.message}`));
    };

    // ---- player
    const page = await state.context.newPage();
    watch(page, 'player');
    const playerUrl = `${base}/player.html?stream=${STREAM}`;
    const res = await page.goto(playerUrl, { waitUntil: 'domcontentloaded', timeout: 15_000 });
    const csp = res?.headers()['content-security-policy'];
    log(`GET ${playerUrl}: ${res?.status()}; CSP: ${csp || '(none)'}`);
    if (!res || !res.ok()) throw new Fatal(`player.html answered ${res?.status()}`);

    try {
      await page.waitForFunction(() => window.mpegcast && window.mpegcast.decodedFrames > 0, null, { timeout: 20_000 });
    } catch {
      const st = await playerState(page).catch(() => ({}));
      throw new Fatal(`no picture decoded within 20 s: ${JSON.stringify(st)}`);
    }
    await sleep(1000);   // let the player settle after its first keyframe
    const seconds = Number(opt.seconds) || 3;
    const a = await page.evaluate(() => ({ n: window.mpegcast.decodedFrames, t: performance.now() }));
    await sleep(seconds * 1000);
    const b = await page.evaluate(() => ({ n: window.mpegcast.decodedFrames, t: performance.now() }));
    const rate = (b.n - a.n) / ((b.t - a.t) / 1000);
    const st = await playerState(page);
    log(`player: ${JSON.stringify(st)}`);
    check('decode rate', rate >= MIN_DECODE_FPS,
      `${rate.toFixed(1)} pictures/s over ${((b.t - a.t) / 1000).toFixed(1)} s (need >= ${MIN_DECODE_FPS}; ` +
      `decoder ${st.decoder}, renderer ${st.renderer}, ${st.width}x${st.height})`);
    check('status line', st.state === 'live' && /live/.test(st.status || ''), `"${st.status}"`);

    const shotPath = path.join(opt.artifacts, `${NAME}_canvas.png`);
    const png = await page.locator('#video').screenshot({ path: shotPath, timeout: 10_000 });
    const px = await pixelStats(page, png);
    check('canvas shows a picture', px.stddev > 10 && px.colours >= 16,
      `${px.width}x${px.height} luma mean ${px.mean.toFixed(1)} stddev ${px.stddev.toFixed(1)}, ${px.colours} colours; saved ${shotPath}`);

    // ---- dashboard (a failure here is reported as a check; the reconnect check still runs)
    const dash = await state.context.newPage();
    watch(dash, 'dashboard');
    let listed = false;
    let rowText = '';
    try {
      const dres = await dash.goto(`${base}/`, { waitUntil: 'domcontentloaded', timeout: 15_000 });
      if (!dres || !dres.ok()) throw new Error(`/ answered ${dres?.status()}`);
      const link = dash.locator(`a[href="player.html?stream=${STREAM}"]`);
      try {
        await link.first().waitFor({ state: 'visible', timeout: 10_000 });
        listed = true;
        rowText = (await dash.locator(`[data-stream="${STREAM}"]`).first().innerText({ timeout: 5_000 })).replace(/\s+/g, ' ').trim();
      } catch (e) {
        rowText = (await dash.locator('#tiles').innerText({ timeout: 5_000 }).catch(() => '')).replace(/\s+/g, ' ').trim() ||
          e.message.split('\n')[0];
      }
    } catch (e) {
      rowText = `cannot load the dashboard: ${e.message.split('\n')[0]}`;
    }
    await dash.screenshot({ path: path.join(opt.artifacts, `${NAME}_dashboard.png`), timeout: 5_000 }).catch(() => {});
    check('dashboard lists the stream', listed, `row: "${rowText}"`);
    await dash.close().catch(() => {});

    // ---- reconnect: restart the relay on the same ports; the player must come back by itself.
    // The capture agent is restarted too, so that this checks the player, not the agent's backoff.
    if (!opt['no-reconnect']) {
      const before = await playerState(page);
      await stop(state.capture);
      await stop(state.relay);
      const during = await waitFor('the player to notice the relay is gone', async () => {
        const st = await playerState(page);
        return st.state !== 'live' && st;
      }, 10_000);
      state.relay = start('relay', opt.relay, relayArgs);
      await waitForLine(state.relay, /ready/, 15_000);
      state.capture = start('capture', opt.capture, captureArgs);
      let ok = true;
      let detail;
      try {
        const n0 = (await playerState(page)).decodedFrames;
        await page.waitForFunction((n) => window.mpegcast.state === 'live' && window.mpegcast.decodedFrames > n + 25,
          n0, { timeout: 25_000 });
        const after = await playerState(page);
        detail = `status "${during.status}" while the relay was down; live again after ${after.opens - before.opens} reconnect(s), ` +
          `"${after.status}"`;
      } catch {
        ok = false;
        detail = `no decoding 25 s after the relay came back: ${JSON.stringify(await playerState(page))}`;
      }
      check('player reconnects by itself', ok, detail);
    }

    check('no CSP messages in the console', cspMessages.length === 0, cspMessages.length ? cspMessages.join(' | ') : 'none');
    check('no refused page resources', refusals.length === 0, refusals.length ? refusals.join(' | ') : 'none');
    check('no uncaught page errors', pageErrors.length === 0, pageErrors.length ? pageErrors.join(' | ') : 'none');
    if (consoleErrors.length) log(`note: other console errors (not failing): ${consoleErrors.join(' | ')}`);
  } finally {
    if (state.context) await state.context.close().catch((e) => log(`closing chromium: ${e.message}`));
    await Promise.all([stop(state.capture), stop(state.relay)]);
    if (state.profile) fs.rmSync(state.profile, { recursive: true, force: true });
  }
}

let fatal = null;
const deadline = setTimeout(() => {
  log(`deadline of ${DEADLINE_MS / 1000} s reached`);
  console.log(`${NAME}: FAIL (timed out)`);
  killAllNow();
  process.exit(1);
}, DEADLINE_MS);

try {
  await main();
} catch (e) {
  fatal = e;
  log(`FAIL: ${e instanceof Fatal ? e.message : e.stack || e}`);
}
clearTimeout(deadline);

const failed = results.filter((r) => !r.ok);
if (fatal || failed.length) {
  for (const tag of ['relay', 'capture']) {
    const f = path.join(opt.artifacts, `${NAME}_${tag}.log`);
    if (fs.existsSync(f)) {
      const lines = fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-15);
      console.log(`--- last lines of ${f}\n${lines.join('\n')}`);
    }
  }
}
const passed = results.length - failed.length;
const summary = fatal
  ? `${NAME}: FAIL (${fatal instanceof Fatal ? fatal.message : fatal.message || fatal}); ${passed} of ${results.length} checks passed before`
  : `${NAME}: ${failed.length ? 'FAIL' : 'PASS'}: ${passed} of ${results.length} checks passed` +
    (failed.length ? ` (failed: ${failed.map((r) => r.name).join(', ')})` : '') +
    `; ${results.map((r) => (r.name === 'decode rate' ? r.detail.split(' (')[0] : null)).filter(Boolean).join('')}`;
console.log(summary);
console.log(`artifacts: ${opt.artifacts}`);
process.exit(fatal || failed.length ? 1 : 0);
