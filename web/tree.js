// mpegcast relay tree: starting at this relay, follows each relay's links to the next relay's /api/v1/node and
// draws relays (node id, viewers, CPU) and links (push / pull, state, stream, bitrate) as plain SVG.
//
// The browser asks every relay itself (the API sends Access-Control-Allow-Origin: *, read-only GET): a pull
// link's `upstream` is the upstream relay's viewer base URL, where its API is; a push link names the downstream
// relay's API in its `api` key (its `url` is the downstream's ingest port). `peers` (from the config) adds the
// neighbours of links that are not running now (an on-demand pull nobody watches), drawn as idle.
// A relay that does not answer within 1.5 s turns grey (its last known links stay, greyed); a link that is
// down is red. Never throws into the page: every relay is fetched and drawn on its own.
//
// window.mpegcastTree.start(container, { token, intervalMs }); window.mpegcastTree.state for tests.
(function () {
  'use strict';

  var SVG = 'http://www.w3.org/2000/svg';
  var FETCH_TIMEOUT_MS = 1500;
  var MAX_NODES = 64;
  var NODE_W = 190;
  var NODE_H = 62;
  var GAP_X = 40;
  var GAP_Y = 80;
  var LABEL_W = 220;

  var state = { polls: 0, nodes: [], links: [] };
  var known = {};        // api base → { api, id, doc, up, since, lastOk, cpuPercent, prevCpu }
  var linkBytes = {};    // link key → { bytes, at }
  var opts = { token: '', intervalMs: 2000 };
  var container = null;

  // "http://h:p" of a URL (ws→http, wss→https); null when it is not one.
  function apiBase(url) {
    try {
      var u = new URL(url, window.location.href);
      var proto = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : u.protocol === 'ws:' || u.protocol === 'http:' ? 'http:' : null;
      if (!proto) { return null; }
      var path = u.pathname.replace(/\/+$/, '');
      return proto + '//' + u.host + path;
    } catch (e) {
      return null;
    }
  }

  function selfBase() {
    var here = new URL('.', window.location.href);
    return here.protocol + '//' + here.host + here.pathname.replace(/\/+$/, '');
  }

  function fetchNode(base) {
    var url = base + '/api/v1/node' + (opts.token ? '?token=' + encodeURIComponent(opts.token) : '');
    var ctrl = new AbortController();
    var timer = window.setTimeout(function () { ctrl.abort(); }, FETCH_TIMEOUT_MS);
    return fetch(url, { cache: 'no-store', mode: 'cors', credentials: 'omit', signal: ctrl.signal })
      .then(function (res) {
        if (!res.ok) { throw new Error('HTTP ' + res.status); }
        return res.json();
      })
      .finally(function () { window.clearTimeout(timer); });
  }

  // One poll: breadth-first from this relay; each level's relays are fetched in parallel.
  function poll() {
    var now = Date.now();
    var visited = {};
    var order = [];
    var frontier = [selfBase()];
    var links = [];

    function visit(level) {
      var batch = frontier.filter(function (b) { return !visited[b]; }).slice(0, MAX_NODES - order.length);
      frontier = [];
      if (!batch.length) { return Promise.resolve(); }
      batch.forEach(function (b) { visited[b] = true; order.push(b); });
      return Promise.all(batch.map(function (b) {
        var n = known[b] || (known[b] = { api: b, id: null, doc: null, up: false, since: now, lastOk: 0, cpuPercent: null, prevCpu: null });
        n.level = level;
        return fetchNode(b).then(function (doc) {
          if (n.prevCpu && now > n.prevCpu.at && typeof doc.cpu_s === 'number') {
            n.cpuPercent = Math.max(0, (doc.cpu_s - n.prevCpu.cpu_s) / ((now - n.prevCpu.at) / 1000) * 100);
          }
          n.prevCpu = { cpu_s: doc.cpu_s, at: now };
          n.doc = doc;
          n.id = doc.node_id;
          if (!n.up) { n.since = now; }
          n.up = true;
          n.error = null;
          n.lastOk = now;
        }).catch(function (e) {
          if (n.up) { n.since = now; }
          n.up = false;
          n.error = e && /^HTTP /.test(e.message || '') ? e.message : 'no answer';
        }).then(function () {
          // A relay that does not answer keeps its last known links (greyed), so the tree stays whole.
          linksOf(n).forEach(function (l) {
            links.push(l);
            var other = l.from === n.api ? l.to : l.from;
            if (other && /^https?:/.test(other) && !visited[other]) { frontier.push(other); }
          });
        });
      })).then(function () { return visit(level + 1); });
    }

    return visit(0).then(function () {
      state.polls += 1;
      draw(order.map(function (b) { return known[b]; }), dedupe(links), now);
    });
  }

  // The links a relay's document names, as { key, kind, from, to, stream, state, ok, idle, bytes }.
  function linksOf(n) {
    var out = [];
    var doc = n.doc;
    if (!doc) { return out; }
    var running = {};
    (doc.pull || []).forEach(function (p) {
      var up = apiBase(p.upstream);
      running['up ' + up] = true;
      out.push({ kind: 'pull', from: up, to: n.api, stream: p.stream, state: p.state, ok: p.state === 'receiving',
        idle: p.state === 'idle' || p.state === 'stopped', bytes: p.bytes_in, error: p.last_error });
    });
    (doc.push || []).forEach(function (p) {
      var down = p.api ? apiBase(p.api) : null;
      running['down ' + down] = true;
      out.push({ kind: 'push', from: n.api, to: down || ('push:' + p.url), unknownApi: !down, stream: p.stream,
        state: p.state, ok: !!p.connected, idle: false, bytes: p.bytes_out, error: p.last_error, url: p.url });
    });
    (doc.peers || []).forEach(function (p) {
      var base = apiBase(p.api);
      if (!base) { return; }
      if (p.relation === 'upstream' && !running['up ' + base]) {
        out.push({ kind: 'pull', from: base, to: n.api, stream: p.streams, state: 'idle', ok: true, idle: true, bytes: null });
      } else if (p.relation === 'downstream' && !running['down ' + base]) {
        out.push({ kind: 'push', from: n.api, to: base, stream: p.streams, state: 'idle', ok: true, idle: true, bytes: null });
      }
    });
    out.forEach(function (l) { l.key = l.kind + ' ' + l.from + ' ' + l.to + ' ' + l.stream; l.stale = !n.up; });
    return out;
  }

  function dedupe(links) {
    var seen = {};
    return links.filter(function (l) {
      if (seen[l.key]) { return false; }
      seen[l.key] = true;
      return true;
    });
  }

  function formatBitrate(bps) {
    if (bps === null || !isFinite(bps)) { return ''; }
    if (bps >= 1e6) { return (bps / 1e6).toFixed(2) + ' Mbit/s'; }
    return (bps / 1e3).toFixed(0) + ' kbit/s';
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // Layered drawing: data flows down; a relay sits one row below the relay it gets the stream from.
  function draw(nodes, links, now) {
    var byApi = {};
    nodes.forEach(function (n) { byApi[n.api] = n; });
    // Push links to a relay whose API is unknown: a leaf box of their own.
    links.forEach(function (l) {
      if (l.unknownApi && !byApi[l.to]) {
        byApi[l.to] = { api: l.to, id: null, up: false, unknown: true, url: l.url, doc: null };
        nodes.push(byApi[l.to]);
      }
      if (!byApi[l.from]) {  // e.g. an upstream beyond MAX_NODES
        byApi[l.from] = { api: l.from, id: null, up: false, doc: null };
        nodes.push(byApi[l.from]);
      }
    });
    // Rows: longest path from a relay without an upstream (cycles cut by the iteration limit).
    var row = {};
    nodes.forEach(function (n) { row[n.api] = 0; });
    for (var i = 0; i < nodes.length; i += 1) {
      var changed = false;
      links.forEach(function (l) {
        if (row[l.to] < row[l.from] + 1 && row[l.from] + 1 < nodes.length) { row[l.to] = row[l.from] + 1; changed = true; }
      });
      if (!changed) { break; }
    }
    var rows = [];
    nodes.forEach(function (n) { (rows[row[n.api]] = rows[row[n.api]] || []).push(n); });
    var widest = rows.reduce(function (m, r) { return Math.max(m, r ? r.length : 0); }, 1);
    var width = widest * NODE_W + (widest + 1) * GAP_X + LABEL_W;  // room for the last link's label
    var height = rows.length * NODE_H + (rows.length + 1) * GAP_Y - GAP_Y / 2;
    var pos = {};
    rows.forEach(function (r, y) {
      if (!r) { return; }
      var offset = (width - LABEL_W - (r.length * NODE_W + (r.length - 1) * GAP_X)) / 2;
      r.forEach(function (n, x) { pos[n.api] = { x: offset + x * (NODE_W + GAP_X), y: GAP_Y / 2 + y * (NODE_H + GAP_Y) }; });
    });

    var root = svg('svg', { class: 'tree-svg', viewBox: '0 0 ' + width + ' ' + height, width: width, height: height,
      role: 'img', 'aria-label': 'relay tree: ' + nodes.length + ' relays, ' + links.length + ' links' });
    var defs = svg('defs');
    ['ok', 'bad', 'idle'].forEach(function (k) {
      var m = svg('marker', { id: 'arrow-' + k, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
      m.appendChild(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow arrow-' + k }));
      defs.appendChild(m);
    });
    root.appendChild(defs);

    var nextBytes = {};
    state.links = [];
    links.forEach(function (l) {
      var a = pos[l.from];
      var b = pos[l.to];
      if (!a || !b) { return; }
      var prev = linkBytes[l.key];
      var bps = l.bytes !== null && l.bytes !== undefined && prev && now > prev.at && !l.stale
        ? Math.max(0, (l.bytes - prev.bytes) * 8 / ((now - prev.at) / 1000)) : null;
      if (l.bytes !== null && l.bytes !== undefined) { nextBytes[l.key] = { bytes: l.bytes, at: now }; }
      var cls = l.idle ? 'idle' : l.ok && !l.stale ? 'ok' : 'bad';
      var x1 = a.x + NODE_W / 2;
      var y1 = a.y + NODE_H;
      var x2 = b.x + NODE_W / 2;
      var y2 = b.y;
      if (y2 <= y1) { y2 = b.y + NODE_H; y1 = a.y; }  // a link against the flow (cycle): draw it anyway
      var mid = (y1 + y2) / 2;
      var g = svg('g', { class: 'link link-' + cls + (l.stale ? ' link-stale' : ''), 'data-kind': l.kind, 'data-stream': l.stream });
      g.appendChild(svg('path', { d: 'M' + x1 + ',' + y1 + ' C' + x1 + ',' + mid + ' ' + x2 + ',' + mid + ' ' + x2 + ',' + y2,
        'marker-end': 'url(#arrow-' + cls + ')' }));
      var label = l.kind + ' ' + l.stream + ' · ' + l.state + (bps !== null ? ' · ' + formatBitrate(bps) : '');
      var t = svg('text', { x: (x1 + x2) / 2 + 6, y: mid + 4 }, label);
      g.appendChild(svg('title', {}, label + (l.error ? '\nlast error: ' + l.error : '')));
      g.appendChild(t);
      root.appendChild(g);
      state.links.push({ kind: l.kind, from: l.from, to: l.to, stream: l.stream, state: l.state, ok: cls === 'ok', cls: cls, bps: bps });
    });
    linkBytes = nextBytes;

    state.nodes = [];
    nodes.forEach(function (n) {
      var p = pos[n.api];
      var doc = n.doc;
      var up = !!n.up;
      var g = svg('g', { class: 'tree-node ' + (up ? 'node-up' : 'node-down') + (n.api === selfBase() ? ' node-self' : ''),
        transform: 'translate(' + p.x + ',' + p.y + ')', 'data-node-id': n.id || '', 'data-api': n.api });
      g.appendChild(svg('rect', { width: NODE_W, height: NODE_H, rx: 6, ry: 6 }));
      var title = n.id || (n.unknown ? 'push target' : n.api.replace(/^https?:\/\//, ''));
      g.appendChild(svg('text', { x: 10, y: 20, class: 'node-title' }, title));
      var line2;
      if (n.unknown) {
        line2 = (n.url || '').replace(/^[a-z]+:\/\//, '').slice(0, 28) + ' (no api key)';
      } else if (doc) {
        line2 = doc.viewers + (doc.viewers === 1 ? ' viewer · ' : ' viewers · ') + doc.streams + (doc.streams === 1 ? ' stream' : ' streams') + (n.cpuPercent !== null && n.cpuPercent !== undefined ? ' · CPU ' + n.cpuPercent.toFixed(0) + ' %' : '');
      } else {
        line2 = n.api.replace(/^https?:\/\//, '');
      }
      g.appendChild(svg('text', { x: 10, y: 38, class: 'node-line' }, line2));
      var line3 = up ? 'up ' + Math.round((doc.uptime_s || 0) / 60) + ' min' : n.unknown ? '' : (n.error || 'no answer') + (n.lastOk ? ' since ' + new Date(n.since).toLocaleTimeString() : '');
      g.appendChild(svg('text', { x: 10, y: 54, class: 'node-line node-state' }, line3));
      g.appendChild(svg('title', {}, n.api));
      root.appendChild(g);
      state.nodes.push({ id: n.id, api: n.api, up: up, unknown: !!n.unknown });
    });
    container.replaceChildren(root);
  }

  function loop() {
    var started = Date.now();
    var next = function () { window.setTimeout(loop, Math.max(200, opts.intervalMs - (Date.now() - started))); };
    try {
      poll().catch(function (e) { state.error = String(e); }).then(next);
    } catch (e) {
      state.error = String(e);
      next();
    }
  }

  window.mpegcastTree = {
    state: state,
    start: function (el, o) {
      if (!el) { return; }
      container = el;
      opts.token = (o && o.token) || '';
      opts.intervalMs = (o && o.intervalMs) || 2000;
      loop();
    }
  };
}());
