#!/usr/bin/env node
// The monitoring API against a live relay and capture agent (640x480 testsrc2 at 25 fps, conf/capture.conf):
//  1. viewers equals the WebSocket viewers connected (3, then 0 after they leave);
//  2. video width/height equal the encoded size; fps within 1 % of 25;
//  3. bitrate_in_bps within 20 % of the encoder's output rate as an HTTP-TS viewer measures it;
//  4. every document (streams, stream, node, the 404 body) passes docs/api.schema.json (ajv, draft 2020-12);
//  5. /metrics passes `promtool check metrics` and its numbers match the API's (same numbers within a tick);
//  6. CORS: Access-Control-Allow-Origin: * on /api and /metrics;
//  7. access control (relay.conf api): 403 outside allow, 401 without / with a wrong token, 200 with it as
//     Bearer or ?token=, the token never in the log; /healthz, the player and snapshots stay public.
//
// node api.test.mjs --relay BIN --capture BIN --capture-conf FILE --web-root DIR --schema docs/api.schema.json --artifacts DIR

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { Fatal, getJson, harness, measureHttpTs, sleep, waitFor, wsViewer } from './harness.mjs';

const NAME = 'api_monitoring';
const t = harness(NAME, { deadlineMs: 100_000 });
const { opt, log, check } = t;
const STREAM = 'cam1';
const VIEWERS = 3;

function metricsValues(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

function configuredBitrate() {
  const text = fs.readFileSync(opt['capture-conf'], 'utf8');
  const m = /^\s*bitrate_bps\s*=\s*(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

async function main() {
  t.need('relay', 'capture', 'capture-conf', 'web-root', 'schema');
  const schema = JSON.parse(fs.readFileSync(opt.schema, 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addSchema(schema, 'api');
  const validate = (what, def, doc) => {
    const v = ajv.getSchema(`api#/$defs/${def}`);
    const ok = v(doc);
    return check(`schema: ${what}`, ok, ok ? `valid ${def}` : ajv.errorsText(v.errors, { dataVar: what }));
  };

  // A push link and a pull rule to nowhere, so that the node document has push, pull and peers entries to
  // validate (streams "other" and "othx", not cam1, whose viewer count stays the test's viewers).
  const relay = await t.relay('relay', 'node_id = "api-test";\n' +
    'push = ( { stream = "other"; url = "http://127.0.0.1:9/publish/other"; api = "http://127.0.0.1:9"; } );\n' +
    'pull = ( { streams = "oth*"; upstreams = [ "ws://127.0.0.1:9" ]; } );\n');
  const capture = t.capture('capture', relay, STREAM);
  await waitFor(`${STREAM} to have a keyframe`, async () => {
    if (capture.exited) throw new Fatal(`capture exited (code ${capture.code}); see ${capture.logPath}`);
    const { body } = await getJson(`${relay.base}/api/v1/streams/${STREAM}`);
    return body.keyframes >= 2 && body.video && body.video.width;
  }, 20_000);

  // ---- viewers, format, bit rate (the HTTP-TS measurement runs while the WebSocket viewers are connected)
  const viewers = [];
  for (let i = 0; i < VIEWERS; i += 1) viewers.push(await wsViewer(relay.viewPort, `/live/${STREAM}`));
  const measuring = measureHttpTs(`${relay.base}/live/${STREAM}.ts`, 2000, 8000);
  await sleep(1000);
  let s = (await getJson(`${relay.base}/api/v1/streams/${STREAM}`)).body;
  check('viewers = connected viewers', s.viewers === VIEWERS + 1 && s.subscribers_by_egress.websocket === VIEWERS &&
    s.subscribers_by_egress['http-ts'] === 1,
  `viewers ${s.viewers} (websocket ${s.subscribers_by_egress.websocket}, http-ts ${s.subscribers_by_egress['http-ts']}); connected ${VIEWERS} WebSocket + 1 HTTP-TS`);
  check('video size = encoded size', s.video && s.video.width === 640 && s.video.height === 480,
    `${s.video && s.video.width}x${s.video && s.video.height}, encoded 640x480`);
  check('frame rate within 1 % of 25', s.video && Math.abs(s.video.fps - 25) <= 0.25, `fps ${s.video && s.video.fps}`);
  const measured = await measuring;
  s = (await getJson(`${relay.base}/api/v1/streams/${STREAM}`)).body;
  const configured = configuredBitrate();
  const diff = Math.abs(s.bitrate_in_bps - measured.bps) / measured.bps;
  check('bitrate_in within 20 % of the encoder output', diff <= 0.2,
    `bitrate_in_bps ${s.bitrate_in_bps}; measured ${Math.round(measured.bps)} bit/s over ${measured.seconds.toFixed(1)} s ` +
    `(${(diff * 100).toFixed(1)} % apart); capture.conf bitrate_bps ${configured} (video only, TS adds its overhead)`);
  check('bytes_out counts the viewers', s.bytes_out > 0 && s.bitrate_out_bps > s.bitrate_in_bps,
    `bytes_out ${s.bytes_out}, bitrate_out_bps ${s.bitrate_out_bps} for ${VIEWERS + 1} viewers`);
  for (const v of viewers) v.close();
  await waitFor('viewers to go back to 0', async () => (await getJson(`${relay.base}/api/v1/streams/${STREAM}`)).body.viewers === 0, 5000)
    .then(() => check('viewers back to 0 after they left', true, 'viewers 0'))
    .catch((e) => check('viewers back to 0 after they left', false, e.message));

  // ---- snapshot counters move (so that the metrics comparison covers them)
  for (let i = 0; i < 3; i += 1) await fetch(`${relay.base}/live/${STREAM}.jpg?w=160`).then((r) => r.arrayBuffer());

  // ---- schema of every document
  const streams = await getJson(`${relay.base}/api/v1/streams`);
  validate('/api/v1/streams', 'streams', streams.body);
  validate(`/api/v1/streams/${STREAM}`, 'stream', (await getJson(`${relay.base}/api/v1/streams/${STREAM}`)).body);
  const missing = await getJson(`${relay.base}/api/v1/streams/nosuch`);
  check('404 for an unknown stream', missing.status === 404, `HTTP ${missing.status}`);
  validate('/api/v1/streams/nosuch', 'error', missing.body);
  const puller = await wsViewer(relay.viewPort, '/live/othx');  // demand for oth*: an on-demand pull starts (and fails)
  await sleep(300);
  const node = await getJson(`${relay.base}/api/v1/node`);
  puller.close();
  validate('/api/v1/node', 'node', node.body);
  check('node document has push, pull and peers entries', node.body.push.length === 1 && node.body.pull.length === 1 &&
    node.body.peers.length === 2 && node.body.push[0].api === 'http://127.0.0.1:9',
  `push ${JSON.stringify(node.body.push[0])}; pull ${JSON.stringify(node.body.pull[0])}; peers ${JSON.stringify(node.body.peers)}`);
  check('CORS on /api', node.headers.get('access-control-allow-origin') === '*',
    `Access-Control-Allow-Origin: ${node.headers.get('access-control-allow-origin')}`);

  // ---- /metrics: promtool, and the same numbers as the API (fetched right after it: within a tick)
  const a = (await getJson(`${relay.base}/api/v1/node`)).body;
  const as = (await getJson(`${relay.base}/api/v1/streams/${STREAM}`)).body;
  const mres = await fetch(`${relay.base}/metrics`);
  const metrics = await mres.text();
  fs.writeFileSync(path.join(opt.artifacts, `${NAME}_metrics.txt`), metrics);
  check('CORS on /metrics', mres.headers.get('access-control-allow-origin') === '*', `${mres.headers.get('access-control-allow-origin')}`);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  check('promtool check metrics', promtool.status === 0 && !promtool.stdout.trim() && !promtool.stderr.trim(),
    promtool.error ? promtool.error.message : `exit ${promtool.status}${promtool.stdout.trim() || promtool.stderr.trim() ? ': ' + (promtool.stdout + promtool.stderr).trim().slice(0, 300) : ', no complaints'}`);
  const m = metricsValues(metrics);
  const lbl = `{stream="${STREAM}"}`;
  const tickBytes = as.bitrate_in_bps / 8 * 2;  // what may arrive between the two requests (generously)
  const pairs = [
    ['mpegcast_viewer_connections_total', a.viewer_connections, 0],
    ['mpegcast_viewers', a.viewers, 0],
    ['mpegcast_streams', a.streams, 0],
    ['mpegcast_connections_refused_total', a.connections_refused, 0],
    ['mpegcast_ingest_connections_total', a.ingest_connections, 0],
    ['mpegcast_snapshot_requests_total', a.snapshot_requests, 0],
    ['mpegcast_snapshot_decodes_total', a.snapshot_decodes, 0],
    ['mpegcast_snapshot_encodes_total', a.snapshot_encodes, 0],
    ['mpegcast_api_refused_total', a.api_refused, 0],
    ['process_start_time_seconds', a.started, 0],
    [`mpegcast_stream_ingest_bytes_total${lbl}`, as.bytes_in, tickBytes],
    [`mpegcast_stream_keyframes_total${lbl}`, as.keyframes, 1],
    [`mpegcast_stream_video_width_pixels${lbl}`, as.video.width, 0],
    [`mpegcast_stream_video_height_pixels${lbl}`, as.video.height, 0],
    [`mpegcast_stream_viewers${lbl}`, as.viewers, 0],
    [`mpegcast_stream_cc_errors_total${lbl}`, as.cc_errors, 0],
  ].filter(([, v]) => v !== null);
  const mismatches = [];
  for (const [key, api, slack] of pairs) {
    const got = m.get(key);
    if (got === undefined || got < api || got > api + slack) mismatches.push(`${key} ${got} vs API ${api}${slack ? ` (+${slack})` : ''}`);
  }
  const cpuOk = Math.abs(m.get('process_cpu_seconds_total') - a.cpu_s) < 0.5;
  if (!cpuOk) mismatches.push(`process_cpu_seconds_total ${m.get('process_cpu_seconds_total')} vs cpu_s ${a.cpu_s}`);
  check('metrics match the API', mismatches.length === 0,
    mismatches.length ? mismatches.join('; ') : `${pairs.length + 1} series equal to their API fields (ingest bytes within one tick)`);

  await t.stop(capture);
  await t.stop(relay.proc);

  // ---- access control: one relay that only 10.0.0.0/8 may read, one that needs a token
  const TOKEN = 'Tok3n-for-the-api-test';
  const denied = await t.relay('relay-allow', 'api = { allow = [ "10.0.0.0/8" ]; };\n');
  const r403 = await fetch(`${denied.base}/api/v1/node`);
  check('api.allow: 403 outside the networks', r403.status === 403, `HTTP ${r403.status}`);
  const r403m = await fetch(`${denied.base}/metrics`);
  const r403d = await fetch(`${denied.base}/`);
  check('api.allow covers /metrics and the dashboard page', r403m.status === 403 && r403d.status === 403,
    `/metrics ${r403m.status}, / ${r403d.status}`);
  await t.stop(denied.proc);

  const locked = await t.relay('relay-token', `api = { allow = [ "127.0.0.0/8" ]; token = "${TOKEN}"; };\n`);
  const codes = {};
  for (const [what, url, init] of [
    ['no token', `${locked.base}/api/v1/node`, {}],
    ['wrong token', `${locked.base}/api/v1/node?token=nope`, {}],
    ['wrong bearer', `${locked.base}/metrics`, { headers: { Authorization: 'Bearer nope' } }],
    ['bearer', `${locked.base}/api/v1/node`, { headers: { Authorization: `Bearer ${TOKEN}` } }],
    ['query', `${locked.base}/metrics?token=${TOKEN}`, {}],
    ['dashboard with token', `${locked.base}/?token=${TOKEN}`, {}],
    ['dashboard', `${locked.base}/index.html`, {}],
    ['healthz', `${locked.base}/healthz`, {}],
    ['player', `${locked.base}/player.html`, {}],
    ['snapshot', `${locked.base}/live/none.jpg`, {}],
  ]) {
    const res = await fetch(url, init);
    codes[what] = res.status;
    if (what === 'no token') codes.challenge = res.headers.get('www-authenticate');
  }
  check('api.token: 401 without it or with a wrong one', codes['no token'] === 401 && codes['wrong token'] === 401 &&
    codes['wrong bearer'] === 401 && codes.dashboard === 401 && /^Bearer/.test(codes.challenge || ''), JSON.stringify(codes));
  check('api.token: 200 as Bearer or ?token=', codes.bearer === 200 && codes.query === 200 && codes['dashboard with token'] === 200,
    JSON.stringify(codes));
  check('healthz, player and snapshots stay public', codes.healthz === 200 && codes.player === 200 && codes.snapshot === 404,
    `healthz ${codes.healthz}, player ${codes.player}, snapshot of an unknown stream ${codes.snapshot}`);
  const refused = (await getJson(`${locked.base}/api/v1/node`, { headers: { Authorization: `Bearer ${TOKEN}` } })).body.api_refused;
  check('refusals counted', refused === 4, `api_refused ${refused}`);
  await t.stop(locked.proc);
  const logText = fs.readFileSync(locked.proc.logPath, 'utf8');
  check('the token is never logged', !logText.includes(TOKEN) && !logText.includes('nope'), `${locked.proc.logPath}`);
  log(`api document: ${JSON.stringify(a).length} bytes; metrics: ${metrics.split('\n').length} lines`);
}

await t.finish(main);
