// mpegcast dashboard: the relay's streams as tiles (snapshot, codec and size, viewers, bitrate, state, a chart
// of the last 10 minutes drawn with uPlot), a panel about the relay itself (uptime, CPU, memory, connections,
// links) and the relay tree (tree.js). Polls GET /api/v1/streams and /api/v1/node every 2 s; the history
// lives in the page only.
//
// index.html?token=T   passes T on to the API (relay.conf api.token) and to the other relays of the tree
//
// CSP-safe: loaded from a file; DOM built with createElement/textContent, never innerHTML.
// Test hooks: window.mpegcastDashboard (refreshes, failures, streams, node, history, charts, thumbs).
(function () {
  'use strict';

  var REFRESH_MS = 2000;
  var THUMB_MS = 4000;             // a new snapshot per tile this often
  var HISTORY_MS = 10 * 60 * 1000; // what the charts show

  var params = new URLSearchParams(window.location.search);
  var token = params.get('token') || '';
  var tilesEl = document.getElementById('tiles');
  var statusEl = document.getElementById('status');
  var nodeEl = document.getElementById('node');
  var factsEl = document.getElementById('node-facts');
  var linkRowsEl = document.getElementById('link-rows');

  var d = {
    refreshes: 0, failures: 0, streams: [], node: null,
    history: {},    // stream name → { t: [s], kbps: [], viewers: [] }
    charts: {},     // stream name → uPlot
    thumbs: {},     // stream name → { loads, errors, lastSrc }
    cpuPercent: null
  };
  window.mpegcastDashboard = d;

  function apiUrl(path) {
    return path + (token ? (path.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(token) : '');
  }

  function getJson(path) {
    return fetch(apiUrl(path), { cache: 'no-store' }).then(function (res) {
      if (!res.ok) { throw new Error('HTTP ' + res.status + ' from ' + path); }
      return res.json();
    });
  }

  // ------------------------------------------------------------------------------------------- formatting

  function formatBitrate(bps) {
    if (typeof bps !== 'number' || !isFinite(bps)) { return '–'; }
    if (bps >= 1e6) { return (bps / 1e6).toFixed(2) + ' Mbit/s'; }
    return (bps / 1e3).toFixed(0) + ' kbit/s';
  }

  function formatBytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) { return '–'; }
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
  }

  function formatDuration(s) {
    if (typeof s !== 'number' || !isFinite(s)) { return '–'; }
    s = Math.max(0, Math.round(s));
    if (s < 120) { return s + ' s'; }
    if (s < 7200) { return Math.round(s / 60) + ' min'; }
    if (s < 172800) { return (s / 3600).toFixed(1) + ' h'; }
    return (s / 86400).toFixed(1) + ' days';
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  // ------------------------------------------------------------------------------------------- stream state

  // live: a publisher that sends; stalled: a publisher (or the link feeding the stream) that sends nothing;
  // offline: no publisher.
  function streamState(s, node) {
    var pull = node && Array.isArray(node.pull) ? node.pull.filter(function (p) { return p.stream === s.name; })[0] : null;
    if (!s.publisher) {
      if (pull && pull.state !== 'idle' && pull.state !== 'stopped') { return { cls: 'stalled', text: 'link ' + pull.state }; }
      return { cls: 'offline', text: 'no publisher' };
    }
    if (pull && pull.state !== 'receiving') { return { cls: 'stalled', text: 'stalled link (' + pull.state + ')' }; }
    if (!s.bitrate_in_bps) { return { cls: 'stalled', text: 'stalled (no data)' }; }
    if (s.source && s.source.state === 'slate') {
      var since = s.source.since ? ' since ' + new Date(s.source.since * 1000).toLocaleTimeString() : '';
      return { cls: 'slate', text: 'camera lost: slate' + since };
    }
    return { cls: 'live', text: 'live' };
  }

  function describeVideo(s) {
    var v = s.video;
    if (!v) { return 'no video yet'; }
    var parts = [v.codec || '?'];
    if (v.width && v.height) { parts.push(v.width + '×' + v.height); }
    if (v.fps) { parts.push((Math.round(v.fps * 100) / 100) + ' fps'); }
    if (s.audio && s.audio.codec) { parts.push(s.audio.codec); }
    return parts.join(' · ');
  }

  // ------------------------------------------------------------------------------------------- history and charts

  function record(streams, nowS) {
    streams.forEach(function (s) {
      var h = d.history[s.name] || (d.history[s.name] = { t: [], kbps: [], viewers: [] });
      h.t.push(nowS);
      h.kbps.push(typeof s.bitrate_in_bps === 'number' ? s.bitrate_in_bps / 1000 : null);
      h.viewers.push(typeof s.viewers === 'number' ? s.viewers : null);
      while (h.t.length && h.t[0] < nowS - HISTORY_MS / 1000) {
        h.t.shift(); h.kbps.shift(); h.viewers.shift();
      }
    });
  }

  function chartWidth(container) {
    return Math.max(200, Math.floor(container.clientWidth || 300));
  }

  function makeChart(name, container) {
    if (typeof window.uPlot !== 'function') { return null; }
    var css = getComputedStyle(document.documentElement);
    var inColour = css.getPropertyValue('--accent').trim() || '#4fc3f7';
    var viewersColour = css.getPropertyValue('--warn').trim() || '#ffb74d';
    var grid = { stroke: 'rgba(139,152,169,0.15)', width: 1 };
    var axisFont = '11px system-ui, sans-serif';
    var opts = {
      width: chartWidth(container),
      height: 130,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, kbps: { range: function (u, min, max) { return [0, Math.max(10, max * 1.15)]; } },
        viewers: { range: function (u, min, max) { return [0, Math.max(2, Math.ceil(max * 1.2))]; } } },
      axes: [
        { stroke: '#8b98a9', grid: grid, ticks: grid, font: axisFont },
        { scale: 'kbps', stroke: inColour, grid: grid, ticks: grid, font: axisFont, size: 46,
          values: function (u, vals) { return vals.map(function (v) { return v >= 1000 ? (v / 1000).toFixed(1) + 'M' : v.toFixed(0) + 'k'; }); } },
        { scale: 'viewers', side: 1, stroke: viewersColour, grid: { show: false }, ticks: grid, font: axisFont, size: 30,
          values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? String(v) : ''; }); } }
      ],
      series: [
        {},
        { label: 'bitrate in', scale: 'kbps', stroke: inColour, width: 1.5, fill: 'rgba(79,195,247,0.12)',
          value: function (u, v) { return v === null || v === undefined ? '–' : formatBitrate(v * 1000); } },
        { label: 'viewers', scale: 'viewers', stroke: viewersColour, width: 1.5, paths: window.uPlot.paths && window.uPlot.paths.stepped ? window.uPlot.paths.stepped({ align: 1 }) : undefined }
      ]
    };
    var h = d.history[name];
    return new window.uPlot(opts, [h.t.slice(), h.kbps.slice(), h.viewers.slice()], container);
  }

  function updateChart(name, container) {
    var h = d.history[name];
    var chart = d.charts[name];
    if (!chart || chart.root.parentNode !== container) {
      if (chart) { chart.destroy(); }
      chart = makeChart(name, container);
      if (!chart) { return; }
      d.charts[name] = chart;
    } else {
      chart.setData([h.t.slice(), h.kbps.slice(), h.viewers.slice()]);
      var w = chartWidth(container);
      if (Math.abs(chart.width - w) > 4) { chart.setSize({ width: w, height: 130 }); }
    }
  }

  // ------------------------------------------------------------------------------------------- tiles

  var tiles = {};  // stream name → { root, img, badge, meta, viewers, bitrate, chart, lastThumb }

  function makeTile(name) {
    var t = { root: el('article', 'tile'), lastThumb: 0 };
    t.root.dataset.stream = name;
    var href = 'player.html?stream=' + encodeURIComponent(name);
    var thumbLink = el('a', 'thumb');
    thumbLink.href = href;
    thumbLink.title = 'play ' + name;
    t.img = el('img');
    t.img.alt = name + ' snapshot';
    t.img.decoding = 'async';
    t.placeholder = el('span', 'thumb-empty', 'no picture yet');
    t.badge = el('span', 'badge');
    thumbLink.append(t.img, t.placeholder, t.badge);
    var body = el('div', 'tile-body');
    var title = el('h3');
    var nameLink = el('a', 'stream-link', name);
    nameLink.href = href;
    title.appendChild(nameLink);
    t.meta = el('p', 'meta');
    var nums = el('p', 'nums');
    t.viewers = el('span', 'viewers');
    t.bitrate = el('span', 'bitrate');
    nums.append(t.viewers, t.bitrate);
    t.publisher = el('p', 'publisher');
    t.chart = el('div', 'chart');
    body.append(title, t.meta, nums, t.publisher, t.chart);
    t.root.append(thumbLink, body);
    t.img.addEventListener('load', function () {
      var th = d.thumbs[name] || (d.thumbs[name] = { loads: 0, errors: 0, lastSrc: '' });
      th.loads += 1;
      t.root.classList.add('has-thumb');
    });
    t.img.addEventListener('error', function () {
      var th = d.thumbs[name] || (d.thumbs[name] = { loads: 0, errors: 0, lastSrc: '' });
      th.errors += 1;
      t.root.classList.remove('has-thumb');
    });
    return t;
  }

  function refreshThumb(name, t, state, nowMs) {
    if (state.cls === 'offline' || nowMs - t.lastThumb < THUMB_MS) { return; }
    t.lastThumb = nowMs;
    var src = 'live/' + encodeURIComponent(name) + '.jpg?w=320&t=' + nowMs;
    var th = d.thumbs[name] || (d.thumbs[name] = { loads: 0, errors: 0, lastSrc: '' });
    th.lastSrc = src;
    // Swap only once the new picture is here, so the tile never flashes empty.
    var next = new Image();
    next.onload = function () { t.img.src = src; };
    next.onerror = function () { th.errors += 1; };
    next.src = src;
  }

  function showStreams(streams, node) {
    var nowMs = Date.now();
    var seen = {};
    if (!streams.length) {
      tilesEl.replaceChildren(el('p', 'empty', 'no streams yet: publish one to /publish/<name> on the ingest port'));
      Object.keys(tiles).forEach(function (k) { delete tiles[k]; });
      return;
    }
    var sorted = streams.slice().sort(function (a, b) { return String(a.name).localeCompare(String(b.name)); });
    var order = [];
    sorted.forEach(function (s) {
      seen[s.name] = true;
      var t = tiles[s.name] || (tiles[s.name] = makeTile(s.name));
      var state = streamState(s, node);
      t.root.className = 'tile state-' + state.cls + (t.root.classList.contains('has-thumb') ? ' has-thumb' : '');
      t.badge.textContent = state.text;
      t.meta.textContent = describeVideo(s);
      t.viewers.textContent = s.viewers + (s.viewers === 1 ? ' viewer' : ' viewers');
      t.bitrate.textContent = formatBitrate(s.bitrate_in_bps) + ' in';
      t.publisher.textContent = s.publisher
        ? (s.publisher_kind || 'publisher') + ' ' + s.publisher + (s.via && s.via.length ? ' via ' + s.via.join(' → ') : '')
        : 'waiting for a publisher';
      refreshThumb(s.name, t, state, nowMs);
      order.push(t.root);
    });
    Object.keys(tiles).forEach(function (name) {
      if (!seen[name]) {
        if (d.charts[name]) { d.charts[name].destroy(); delete d.charts[name]; }
        delete tiles[name];
      }
    });
    if (order.length !== tilesEl.children.length || order.some(function (n, i) { return tilesEl.children[i] !== n; })) {
      tilesEl.replaceChildren.apply(tilesEl, order);
    }
    sorted.forEach(function (s) { updateChart(s.name, tiles[s.name].chart); });
  }

  // ------------------------------------------------------------------------------------------- node panel

  var lastCpu = null;   // { cpu_s, at_ms }
  var lastLinkBytes = {};

  function fact(dl, name, value) {
    var div = el('div');
    div.append(el('dt', null, name), el('dd', null, value));
    dl.appendChild(div);
  }

  function showNode(node, nowMs) {
    if (lastCpu && nowMs > lastCpu.at_ms && typeof node.cpu_s === 'number') {
      d.cpuPercent = Math.max(0, (node.cpu_s - lastCpu.cpu_s) / ((nowMs - lastCpu.at_ms) / 1000) * 100);
    }
    lastCpu = { cpu_s: node.cpu_s, at_ms: nowMs };
    nodeEl.textContent = [node.node_id, node.version ? 'v' + node.version : ''].filter(Boolean).join(' · ');
    var dl = document.createDocumentFragment();
    fact(dl, 'node', node.node_id || '–');
    fact(dl, 'uptime', formatDuration(node.uptime_s));
    fact(dl, 'CPU', d.cpuPercent === null ? 'measuring…' : d.cpuPercent.toFixed(1) + ' % of a core');
    fact(dl, 'memory', formatBytes(node.rss_bytes));
    fact(dl, 'connections', node.connections + ' of ' + node.max_connections);
    fact(dl, 'viewers', String(node.viewers));
    fact(dl, 'streams', String(node.streams));
    fact(dl, 'received / sent', formatBytes(node.bytes_in) + ' / ' + formatBytes(node.bytes_out));
    fact(dl, 'snapshots', node.snapshot_requests + ' requests, ' + node.snapshot_decodes + ' decodes');
    factsEl.replaceChildren(dl);

    var rows = document.createDocumentFragment();
    var links = [];
    (node.push || []).forEach(function (p) {
      links.push({ kind: 'push', stream: p.stream, peer: p.url, state: p.state, ok: p.connected, bytes: p.bytes_out,
        failures: p.failures, error: p.last_error });
    });
    (node.pull || []).forEach(function (p) {
      links.push({ kind: 'pull', stream: p.stream, peer: p.upstream, state: p.state, ok: p.state === 'receiving',
        bytes: p.bytes_in, failures: p.failures, error: p.last_error });
    });
    var nextBytes = {};
    links.forEach(function (l) {
      var key = l.kind + ' ' + l.stream + ' ' + l.peer;
      var prev = lastLinkBytes[key];
      var bps = prev && nowMs > prev.at_ms ? Math.max(0, (l.bytes - prev.bytes) * 8 / ((nowMs - prev.at_ms) / 1000)) : null;
      nextBytes[key] = { bytes: l.bytes, at_ms: nowMs };
      var tr = el('tr', 'link-' + (l.ok ? 'up' : 'down'));
      tr.dataset.kind = l.kind;
      tr.append(el('td', null, l.kind), el('td', null, l.stream), el('td', 'peer', l.peer),
        el('td', 'state', l.state), el('td', 'num', bps === null ? '–' : formatBitrate(bps)),
        el('td', 'num', String(l.failures)), el('td', 'error', l.error || ''));
      rows.appendChild(tr);
    });
    lastLinkBytes = nextBytes;
    if (!links.length) {
      var tr = el('tr', 'empty');
      var td = el('td', null, 'no push or pull links');
      td.colSpan = 7;
      tr.appendChild(td);
      rows.appendChild(tr);
    }
    linkRowsEl.replaceChildren(rows);
  }

  // ------------------------------------------------------------------------------------------- polling

  function refresh() {
    var started = Date.now();
    Promise.all([getJson('api/v1/streams'), getJson('api/v1/node').catch(function () { return null; })])
      .then(function (r) {
        var streams = Array.isArray(r[0] && r[0].streams) ? r[0].streams : [];
        var node = r[1];
        var nowMs = Date.now();
        d.refreshes += 1;
        d.streams = streams;
        d.node = node;
        record(streams, nowMs / 1000);
        if (node) { showNode(node, nowMs); }
        showStreams(streams, node);
        statusEl.textContent = 'updated ' + new Date(nowMs).toLocaleTimeString();
        statusEl.className = 'status status-live';
      })
      .catch(function (e) {
        d.failures += 1;
        statusEl.textContent = 'cannot reach the relay API (' + e.message + '), retrying…';
        statusEl.className = 'status status-error';
      })
      .then(function () { window.setTimeout(refresh, Math.max(200, REFRESH_MS - (Date.now() - started))); });
  }

  refresh();
  if (window.mpegcastTree) {
    window.mpegcastTree.start(document.getElementById('tree'), { token: token, intervalMs: REFRESH_MS });
  }
}());
