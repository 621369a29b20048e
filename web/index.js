// mpegcast dashboard: lists the relay's streams from GET /api/v1/streams, refreshed every 2 s.
// CSP-safe: loaded from a file; builds the table with DOM calls (textContent), never innerHTML.
(function () {
  'use strict';

  var REFRESH_MS = 2000;
  var rows = document.getElementById('stream-rows');
  var statusEl = document.getElementById('status');
  var nodeEl = document.getElementById('node');

  window.mpegcastDashboard = { refreshes: 0, failures: 0, streams: [] };

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

  // connected_since: ISO 8601 text or seconds since the epoch; shown as local time plus age.
  function formatSince(v) {
    if (v === null || v === undefined || v === '') { return '–'; }
    var d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
    if (isNaN(d.getTime())) { return String(v); }
    var age = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    var ageText = age < 120 ? age + ' s' : age < 7200 ? Math.round(age / 60) + ' min' : Math.round(age / 3600) + ' h';
    return d.toLocaleTimeString() + ' (' + ageText + ')';
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function show(streams) {
    var frag = document.createDocumentFragment();
    if (!streams.length) {
      var tr = document.createElement('tr');
      tr.className = 'empty';
      var td = cell(tr, 'no streams yet: publish one to /publish/<name> on the ingest port');
      td.colSpan = 6;
      frag.appendChild(tr);
    }
    streams.slice().sort(function (a, b) {
      return String(a.name).localeCompare(String(b.name));
    }).forEach(function (s) {
      var tr = document.createElement('tr');
      tr.dataset.stream = s.name;
      var nameTd = document.createElement('td');
      var a = document.createElement('a');
      a.href = 'player.html?stream=' + encodeURIComponent(s.name);
      a.textContent = s.name;
      nameTd.appendChild(a);
      tr.appendChild(nameTd);
      var live = s.publisher !== null && s.publisher !== undefined && s.publisher !== '';
      cell(tr, live ? String(s.publisher) : 'no publisher', live ? '' : 'idle');
      cell(tr, live ? formatSince(s.connected_since) : '–');
      cell(tr, formatBitrate(s.bitrate_in_bps), 'num');
      cell(tr, formatBytes(s.bytes_in), 'num');
      cell(tr, s.viewers === undefined ? '–' : String(s.viewers), 'num');
      frag.appendChild(tr);
    });
    rows.replaceChildren(frag);
  }

  function refresh() {
    fetch('api/v1/streams', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) { throw new Error('HTTP ' + res.status); }
        return res.json();
      })
      .then(function (body) {
        var streams = Array.isArray(body && body.streams) ? body.streams : [];
        window.mpegcastDashboard.refreshes += 1;
        window.mpegcastDashboard.streams = streams;
        show(streams);
        statusEl.textContent = 'updated ' + new Date().toLocaleTimeString();
        statusEl.className = 'status status-live';
      })
      .catch(function (e) {
        window.mpegcastDashboard.failures += 1;
        statusEl.textContent = 'cannot reach the relay API (' + e.message + '), retrying…';
        statusEl.className = 'status status-error';
      })
      .then(function () { window.setTimeout(refresh, REFRESH_MS); });
  }

  // Node identity, if the relay offers it; the dashboard works without it.
  fetch('api/v1/node', { cache: 'no-store' })
    .then(function (res) { return res.ok ? res.json() : null; })
    .then(function (node) {
      if (!node) { return; }
      var parts = [];
      if (node.node_id || node.id) { parts.push(node.node_id || node.id); }
      if (node.version) { parts.push('v' + node.version); }
      nodeEl.textContent = parts.join(' · ');
    })
    .catch(function () {});

  refresh();
}());
