#!/usr/bin/env node
// The dashboard, the relay tree and the player's overlay in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core). Three relays on loopback in a push cascade: relay-a (two capture agents: cam1 640x480,
// cam2 320x240) pushes cam1 to relay-b, which pushes it to relay-c; each push link names the next relay's API.
//  1. index.html on relay-a lists cam1 and cam2 as live tiles with snapshot thumbnails that change over time;
//  2. cam2's viewer count goes from 0 to 1 when a viewer joins; the charts have points;
//  3. the tree shows three relays and two links, all up; relay-c killed: its node turns grey and the link to it
//     red within a few seconds;
//  4. player.html?stats=1 shows numbers (fps, size, bitrate); a stream that does not exist shows the offline cover;
//  5. no Content-Security-Policy complaint and no uncaught error on any page.
// Screenshots: ARTIFACTS/browser_dashboard_*.png.
//
// node dashboard.test.mjs --relay BIN --capture BIN --capture-conf FILE --web-root DIR --artifacts DIR [--chromium BIN]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Fatal, getJson, harness, sleep, waitFor, wsViewer } from './harness.mjs';

const NAME = 'browser_dashboard';
const t = harness(NAME, { deadlineMs: 110_000 });
const { opt, log, check } = t;
const shot = (file) => path.join(opt.artifacts, `${NAME}_${file}.png`);

// A fingerprint of the picture a tile shows (same origin: the canvas is not tainted).
const thumbPrint = (page, stream) => page.evaluate((name) => {
  const img = document.querySelector(`[data-stream="${name}"] .thumb img`);
  if (!img || !img.complete || !img.naturalWidth) return null;
  const c = document.createElement('canvas');
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < px.length; i += 4) h = (Math.imul(h, 31) + px[i] + (px[i + 1] << 8)) >>> 0;
  return { width: c.width, height: c.height, hash: h };
}, stream);

const treeState = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.mpegcastTree ? window.mpegcastTree.state : {})));

async function main() {
  t.need('relay', 'capture', 'capture-conf', 'web-root', 'chromium');
  // The cascade, leaf first (each config names the next relay's ports).
  const c = await t.relay('relay-c', 'node_id = "relay-c";\n');
  const b = await t.relay('relay-b', `node_id = "relay-b";\npush = ( { stream = "cam1"; url = "http://127.0.0.1:${c.ingestPort}/publish/cam1"; api = "${c.base}"; } );\n`);
  const a = await t.relay('relay-a', `node_id = "relay-a";\nlimits = { publisher_wait_s = 2; };\n` +
    `push = ( { stream = "cam1"; url = "http://127.0.0.1:${b.ingestPort}/publish/cam1"; api = "${b.base}"; } );\n`);
  t.capture('capture-cam1', a, 'cam1');
  t.capture('capture-cam2', a, 'cam2', 'lavfi:testsrc=size=320x240:rate=25');
  await waitFor('cam1 at relay-c and cam2 at relay-a', async () => {
    const cs = (await getJson(`${c.base}/api/v1/streams`)).body.streams;
    const as = (await getJson(`${a.base}/api/v1/streams`)).body.streams;
    return cs.some((s) => s.name === 'cam1' && s.keyframes > 0) && as.some((s) => s.name === 'cam2' && s.keyframes > 0);
  }, 20_000);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mpegcast-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: opt.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1000 },
    timeout: 30_000,
  });
  const complaints = [];
  const watch = (page, tag) => {
    page.on('console', (msg) => {
      if (/content.security.policy|refused to /i.test(msg.text())) complaints.push(`${tag}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => complaints.push(`${tag}: uncaught ${err.message}`));
  };
  try {
    // ---- 1. tiles with thumbnails that change
    const dash = await context.newPage();
    watch(dash, 'dashboard');
    await dash.goto(`${a.base}/`, { waitUntil: 'domcontentloaded' });
    let tiles = '';
    try {
      await dash.waitForFunction(() => ['cam1', 'cam2'].every((n) => {
        const tile = document.querySelector(`.tile[data-stream="${n}"]`);
        return tile && tile.classList.contains('state-live') && tile.classList.contains('has-thumb');
      }), null, { timeout: 15_000 });
      tiles = 'cam1 and cam2 live, with thumbnails';
    } catch {
      tiles = await dash.locator('#tiles').innerText().catch((e) => e.message);
    }
    check('two live streams with thumbnails', /live, with/.test(tiles), tiles.replace(/\s+/g, ' ').slice(0, 200));
    const before = { cam1: await thumbPrint(dash, 'cam1'), cam2: await thumbPrint(dash, 'cam2') };
    const loads0 = await dash.evaluate(() => ({ ...Object.fromEntries(Object.entries(window.mpegcastDashboard.thumbs).map(([k, v]) => [k, v.loads])) }));
    await sleep(9000);  // two more snapshots per tile (every 4 s); new keyframes every second
    const after = { cam1: await thumbPrint(dash, 'cam1'), cam2: await thumbPrint(dash, 'cam2') };
    const loads1 = await dash.evaluate(() => ({ ...Object.fromEntries(Object.entries(window.mpegcastDashboard.thumbs).map(([k, v]) => [k, v.loads])) }));
    check('thumbnails change over time', ['cam1', 'cam2'].every((n) => before[n] && after[n] && before[n].hash !== after[n].hash),
      `cam1 ${JSON.stringify(before.cam1)} → ${JSON.stringify(after.cam1)}; cam2 ${JSON.stringify(before.cam2)} → ${JSON.stringify(after.cam2)}; loads ${JSON.stringify(loads0)} → ${JSON.stringify(loads1)}`);
    check('thumbnails are 320 wide', after.cam1 && after.cam1.width === 320 && after.cam1.height === 240 && after.cam2 && after.cam2.width === 320,
      `${after.cam1 && after.cam1.width}x${after.cam1 && after.cam1.height}, ${after.cam2 && after.cam2.width}x${after.cam2 && after.cam2.height}`);

    // ---- 2. viewer count and charts
    const viewersText = () => dash.locator('.tile[data-stream="cam2"] .viewers').innerText();
    const v0 = await viewersText();
    const viewer = await wsViewer(a.viewPort, '/live/cam2');
    let v1 = '';
    try {
      await dash.waitForFunction(() => /^1 viewer$/.test(document.querySelector('.tile[data-stream="cam2"] .viewers').textContent), null, { timeout: 6000 });
      v1 = await viewersText();
    } catch {
      v1 = `${await viewersText()} after 6 s`;
    }
    check('viewer count updates when a viewer joins', v0 === '0 viewers' && v1 === '1 viewer', `"${v0}" → "${v1}" (${viewer.bytes} bytes received)`);
    viewer.close();
    const points = await dash.evaluate(() => Object.fromEntries(Object.entries(window.mpegcastDashboard.charts).map(([k, u]) => [k, {
      points: u.data[0].length, maxKbps: Math.max(...u.data[1].filter((x) => x !== null)), canvas: !!u.root.querySelector('canvas') }])));
    check('charts have points', ['cam1', 'cam2'].every((n) => points[n] && points[n].points >= 4 && points[n].maxKbps > 100 && points[n].canvas),
      JSON.stringify(points));
    await dash.screenshot({ path: shot('dashboard'), fullPage: true });

    // ---- 3. the tree of the cascade, then relay-c killed
    let ts = null;
    try {
      await dash.waitForFunction(() => {
        const s = window.mpegcastTree && window.mpegcastTree.state;
        return s && s.nodes.length === 3 && s.nodes.every((n) => n.up) && s.links.length === 2 && s.links.every((l) => l.ok);
      }, null, { timeout: 10_000 });
      ts = await treeState(dash);
    } catch {
      ts = await treeState(dash);
    }
    const ids = (ts.nodes || []).map((n) => `${n.id}${n.up ? '' : ' (down)'}`).sort();
    const links = (ts.links || []).map((l) => `${l.kind} ${l.stream} ${l.state} ${l.cls}${l.bps ? ` ${Math.round(l.bps / 1000)} kbit/s` : ''}`);
    check('tree: three relays and two links', ids.join() === 'relay-a,relay-b,relay-c' && links.length === 2 && (ts.links || []).every((l) => l.ok),
      `nodes [${ids.join(', ')}]; links [${links.join('; ')}]`);
    const svgNodes = await dash.locator('#tree g.tree-node').count();
    const svgLinks = await dash.locator('#tree g.link').count();
    check('tree drawn as SVG', svgNodes === 3 && svgLinks === 2, `${svgNodes} node boxes, ${svgLinks} link paths`);
    await dash.locator('#tree').screenshot({ path: shot('tree') });

    const killedAt = Date.now();
    c.proc.child.kill('SIGKILL');
    let greyAfter = null;
    try {
      await dash.waitForFunction(() => {
        const s = window.mpegcastTree.state;
        const node = s.nodes.find((n) => n.id === 'relay-c');
        const link = s.links.find((l) => /relay|127/.test(l.to) && node && l.to === node.api);
        return node && !node.up && link && link.cls === 'bad' &&
          document.querySelector('#tree g.tree-node.node-down[data-node-id="relay-c"]') && document.querySelector('#tree g.link.link-bad');
      }, null, { timeout: 8000, polling: 100 });
      greyAfter = (Date.now() - killedAt) / 1000;
    } catch { /* reported below */ }
    const ts2 = await treeState(dash);
    check('a killed relay turns grey, its link red, within a few seconds', greyAfter !== null && greyAfter <= 6,
      greyAfter !== null ? `after ${greyAfter.toFixed(1)} s; nodes ${JSON.stringify(ts2.nodes.map((n) => [n.id, n.up]))}`
        : `not within 8 s: ${JSON.stringify(ts2)}`);
    await dash.locator('#tree').screenshot({ path: shot('tree_relay_c_killed') });
    check('the page stays whole', (await dash.locator('.tile').count()) === 2 && (await dash.locator('#tree svg').count()) === 1,
      `${await dash.locator('.tile').count()} tiles, tree drawn`);

    // ---- 4. player: stats overlay, offline cover
    const player = await context.newPage();
    watch(player, 'player');
    await player.goto(`${a.base}/player.html?stream=cam1&stats=1`, { waitUntil: 'domcontentloaded' });
    let stats = {};
    try {
      await player.waitForFunction(() => window.mpegcast && window.mpegcast.decodedFrames > 25 && window.mpegcast.bitrateBps > 0, null, { timeout: 15_000 });
      await sleep(1000);
      stats = await player.evaluate(() => Object.fromEntries([...document.querySelectorAll('#stats dd')].map((dd) => [dd.dataset.stat, dd.textContent])));
    } catch (e) {
      stats = { error: e.message.split('\n')[0] };
    }
    const visible = await player.locator('#stats').isVisible();
    check('player overlay shows numbers with ?stats=1', visible && Number(stats.fps) > 5 && stats.size === '640×480' &&
      /bit\/s/.test(stats.bitrate || '') && Number(stats.decoded) > 25 && /\d+\.\d s/.test(stats['last picture'] || ''), JSON.stringify(stats));
    await player.keyboard.press('s');
    const hidden = !(await player.locator('#stats').isVisible());
    await player.keyboard.press('s');
    check('key s toggles the overlay', hidden && (await player.locator('#stats').isVisible()), `hidden after s: ${hidden}`);
    await player.screenshot({ path: shot('player_stats') });

    const offline = await context.newPage();
    watch(offline, 'offline');
    await offline.goto(`${a.base}/player.html?stream=nosuch`, { waitUntil: 'domcontentloaded' });
    let offlineText = '';
    try {
      await offline.waitForFunction(() => window.mpegcast && window.mpegcast.state === 'offline' && !document.getElementById('offline').hidden &&
        window.mpegcast.lastClose && window.mpegcast.lastClose.code === 4404, null, { timeout: 10_000 });
      offlineText = await offline.locator('#offline').innerText();
    } catch {
      offlineText = `not shown: ${JSON.stringify(await offline.evaluate(() => ({ state: window.mpegcast.state, lastClose: window.mpegcast.lastClose })))}`;
    }
    check('offline state for a stream that does not exist', /stream offline/.test(offlineText), offlineText.replace(/\s+/g, ' '));
    await offline.screenshot({ path: shot('player_offline') });

    check('no CSP complaints, no uncaught errors', complaints.length === 0, complaints.length ? complaints.join(' | ') : 'none');
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

await t.finish(main);
