// mpegcast player: JSMpeg on a canvas, fed by ws(s)://<this host>/live/<stream>.
//
// player.html?stream=NAME   (default cam1)
//   &wasm=0|1               force JSMpeg's JS or WebAssembly decoder (default: WASM only where CSP allows it)
//   &gl=0                   force the 2D canvas renderer instead of WebGL
//   &stats=1                show the statistics overlay (key s toggles it; key f: fullscreen)
//
// A stream nobody publishes: the relay closes the WebSocket with 4404 after limits.publisher_wait_s and the
// player shows "stream offline" over the canvas (never a frozen last picture) while it keeps retrying; the
// same cover appears when a live stream stops sending pictures.
//
// CSP-safe: loaded from a file, no inline script, no inline handlers, no inline styles.
// Test hooks: window.mpegcast holds counters (decodedFrames, fps, state, connects, …).
(function () {
  'use strict';

  var STREAM_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
  var RECONNECT_MIN_S = 1;
  var RECONNECT_MAX_S = 5;
  var NO_VIDEO_AFTER_MS = 2000;
  var OFFLINE_RETRY_S = 3;           // after a 4404 (no such stream): retry this often
  var CLOSE_NO_SUCH_STREAM = 4404;   // the relay's close code for a stream without a publisher

  var params = new URLSearchParams(window.location.search);
  var stream = params.get('stream') || 'cam1';
  var statusEl = document.getElementById('status');
  var nameEl = document.getElementById('stream-name');
  var canvas = document.getElementById('video');
  var stage = document.getElementById('stage');
  var statsEl = document.getElementById('stats');
  var statsButton = document.getElementById('stats-button');
  var fullscreenButton = document.getElementById('fullscreen-button');
  var offlineEl = document.getElementById('offline');
  var offlineTitle = document.getElementById('offline-title');
  var offlineDetail = document.getElementById('offline-detail');

  // Relative to this page (so a reverse proxy may mount mpegcast under a path), scheme ws: or wss:.
  var wsUrl = new URL('live/' + encodeURIComponent(stream), window.location.href);
  wsUrl.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  wsUrl.search = '';
  wsUrl.hash = '';
  var url = wsUrl.href;

  // Everything a test (or a curious person in the console) may want to read.
  var m = {
    stream: stream,
    url: url,
    state: 'connecting',     // connecting | waiting | live | reconnecting | offline | error
    decodedFrames: 0,        // onVideoDecode calls since the page loaded
    fps: 0,                  // decoded pictures in the last second
    connects: 0,             // WebSocket connection attempts
    opens: 0,                // successful WebSocket opens
    closes: 0,               // WebSocket closes / errors
    bytesReceived: 0,
    messages: 0,
    width: 0,
    height: 0,
    decoder: null,           // 'wasm' | 'js'
    renderer: null,          // 'webgl' | 'canvas2d'
    lastDecodeAt: 0,         // performance.now() of the last decoded picture
    picturesReceived: 0,     // video PES packets (pictures) the demuxer handed to the decoder
    lateFrames: 0,           // pictures shown more than two frame intervals after the previous one (stutter)
    droppedFrames: 0,        // pictures received but never shown (lost with a reconnect or a buffer overflow)
    bitrateBps: 0,           // received over the last second
    reconnects: 0,           // connections opened after the first
    lastClose: null,         // { code, reason } of the last WebSocket close
    offline: false,          // the offline cover is shown
    statsVisible: false,
    error: null,
    player: null
  };
  window.mpegcast = m;

  var decodeTimes = [];      // performance.now() of decodes within the last second
  var socketOpen = false;

  function setState(state) {
    m.state = state;
    render();
  }

  function render() {
    var text;
    switch (m.state) {
      case 'connecting': text = 'connecting…'; break;
      case 'waiting': text = 'connected, waiting for video…'; break;
      case 'live':
        text = 'live · ' + m.fps.toFixed(0) + ' fps';
        if (m.width) { text += ' · ' + m.width + '×' + m.height; }
        break;
      case 'reconnecting': text = 'reconnecting…'; break;
      case 'offline': text = 'offline · retrying'; break;
      default: text = 'error: ' + (m.error || 'unknown');
    }
    if (m.decoder && m.state !== 'error') { text += ' · ' + m.decoder + '/' + m.renderer; }
    if (statusEl.textContent !== text) { statusEl.textContent = text; }
    statusEl.className = 'status status-' + (m.state === 'offline' ? 'waiting' : m.state);
    renderOffline();
  }

  // The cover over the canvas: no frozen picture while the stream is gone.
  function renderOffline() {
    var now = performance.now();
    var title = null;
    var detail = '';
    if (m.state === 'offline') {
      title = 'stream offline';
      detail = 'nobody publishes ' + stream + ' on this relay: waiting for the camera (retrying every ' + OFFLINE_RETRY_S + ' s)';
    } else if (m.state === 'waiting' && (m.decodedFrames > 0 || now - waitingSince > NO_VIDEO_AFTER_MS)) {
      title = m.decodedFrames > 0 ? 'no picture' : 'waiting for the camera';
      detail = m.decodedFrames > 0 ? 'the stream stopped sending pictures ' + Math.round((now - m.lastDecodeAt) / 1000) +
        ' s ago: waiting for the camera…' : 'connected; ' + stream + ' has not sent a picture yet…';
    } else if (m.state === 'reconnecting' && m.decodedFrames > 0) {
      title = 'connection lost';
      detail = 'reconnecting to the relay…';
    }
    m.offline = title !== null;
    if (offlineEl.hidden === m.offline) { offlineEl.hidden = !m.offline; }
    if (title !== null) {
      if (offlineTitle.textContent !== title) { offlineTitle.textContent = title; }
      if (offlineDetail.textContent !== detail) { offlineDetail.textContent = detail; }
    }
  }

  var waitingSince = performance.now();

  // ---- statistics overlay (?stats=1, key s)
  function statRow(frag, name, value) {
    var dt = document.createElement('dt');
    dt.textContent = name;
    var dd = document.createElement('dd');
    dd.textContent = value;
    dd.dataset.stat = name;
    frag.append(dt, dd);
  }

  function renderStats() {
    if (!m.statsVisible) { return; }
    var since = m.lastDecodeAt ? ((performance.now() - m.lastDecodeAt) / 1000).toFixed(1) + ' s' : '–';
    var frag = document.createDocumentFragment();
    statRow(frag, 'fps', m.fps.toFixed(0));
    statRow(frag, 'bitrate', m.bitrateBps >= 1e6 ? (m.bitrateBps / 1e6).toFixed(2) + ' Mbit/s' : (m.bitrateBps / 1e3).toFixed(0) + ' kbit/s');
    statRow(frag, 'size', m.width ? m.width + '×' + m.height : '–');
    statRow(frag, 'codec', 'MPEG-1 (' + (m.decoder || '?') + ', ' + (m.renderer || '?') + ')');
    statRow(frag, 'decoded', String(m.decodedFrames));
    statRow(frag, 'dropped', String(m.droppedFrames));
    statRow(frag, 'late', String(m.lateFrames));
    statRow(frag, 'last picture', since);
    statRow(frag, 'reconnects', String(m.reconnects));
    statRow(frag, 'state', m.state);
    statsEl.replaceChildren(frag);
  }

  function showStats(on) {
    m.statsVisible = on;
    statsEl.hidden = !on;
    statsButton.setAttribute('aria-pressed', on ? 'true' : 'false');
    renderStats();
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen().catch(function () {});
    } else if (stage.requestFullscreen) {
      stage.requestFullscreen().catch(function () {});
    }
  }

  statsButton.addEventListener('click', function () { showStats(!m.statsVisible); });
  fullscreenButton.addEventListener('click', toggleFullscreen);
  document.addEventListener('keydown', function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === 's' || ev.key === 'S') { showStats(!m.statsVisible); }
    if (ev.key === 'f' || ev.key === 'F') { toggleFullscreen(); }
  });
  stage.addEventListener('dblclick', toggleFullscreen);
  showStats(params.get('stats') === '1');

  function fail(message) {
    m.error = message;
    setState('error');
  }

  if (window.mpegcastRestoreHead) { window.mpegcastRestoreHead(); }
  nameEl.textContent = stream;
  document.title = stream + ' · mpegcast';

  if (!STREAM_NAME_RE.test(stream)) {
    fail('invalid stream name (allowed: A-Z a-z 0-9 _ -, 1 to 64 characters)');
    return;
  }
  if (typeof window.JSMpeg === 'undefined' || !window.JSMpeg.Player) {
    fail('vendor/jsmpeg.min.js did not load');
    return;
  }
  var JSMpeg = window.JSMpeg;

  // Does the page's Content-Security-Policy let WebAssembly compile? A blocked compile would leave JSMpeg
  // waiting forever for its WASM module (and print a CSP violation), so ask the server's headers first.
  // lws's "best practices" policy has script-src 'self' without 'wasm-unsafe-eval': the JS decoder runs then.
  function cspAllowsWasm(policy) {
    if (!policy) { return true; }
    // Several policies (several headers) all have to allow it.
    return policy.split(',').every(function (one) {
      var directives = {};
      one.split(';').forEach(function (d) {
        var parts = d.trim().split(/\s+/);
        var name = parts.shift();
        if (name) { directives[name.toLowerCase()] = parts; }
      });
      var src = directives['script-src'] || directives['default-src'];
      if (!src) { return true; }
      return src.indexOf("'wasm-unsafe-eval'") >= 0 || src.indexOf("'unsafe-eval'") >= 0;
    });
  }

  function metaPolicy() {
    var meta = document.querySelector('meta[http-equiv="Content-Security-Policy" i]');
    return meta ? meta.getAttribute('content') : '';
  }

  function decideWasm() {
    var forced = params.get('wasm');
    if (forced === '0' || forced === '1') { return Promise.resolve(forced === '1'); }
    if (!window.WebAssembly) { return Promise.resolve(false); }
    return fetch(window.location.pathname, { method: 'GET', cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        var policy = res.headers.get('content-security-policy') || '';
        var meta = metaPolicy();
        return cspAllowsWasm(policy) && cspAllowsWasm(meta);
      })
      .catch(function () { return false; });  // unknown: the JS decoder always works
  }

  // A WebSocket source that reports its state and reconnects with a short backoff (1 s → 5 s).
  var BaseSource = JSMpeg.Source.WebSocket;
  var player = null;

  class MpegcastSource extends BaseSource {
    constructor(sourceUrl, options) {
      super(sourceUrl, options);
      this.reconnectInterval = RECONNECT_MIN_S;
      this.shouldAttemptReconnect = true;
      this.openedThisAttempt = false;
    }

    start() {
      m.connects += 1;
      this.openedThisAttempt = false;
      if (m.state !== 'live' && m.state !== 'waiting' && m.state !== 'offline') {
        setState(m.opens > 0 || m.closes > 0 ? 'reconnecting' : 'connecting');
      }
      super.start();
    }

    onOpen() {
      if (m.opens > 0) { m.reconnects += 1; }
      m.opens += 1;
      socketOpen = true;
      this.openedThisAttempt = true;
      this.reconnectInterval = RECONNECT_MIN_S;
      resetDemuxer();
      // A stream that was offline stays "offline" until a picture arrives (the relay keeps a viewer of a
      // stream without a publisher connected until publisher_wait_s, then closes it with 4404 again).
      if (m.state !== 'offline') {
        waitingSince = performance.now();
        setState('waiting');
      }
      super.onOpen();
    }

    onClose(ev) {
      // JSMpeg calls this for both 'error' and 'close' of one socket: count each socket once.
      if (this.socket && this.socket.mpegcastClosed) { return; }
      if (this.socket) { this.socket.mpegcastClosed = true; }
      socketOpen = false;
      m.closes += 1;
      if (!this.openedThisAttempt) {
        this.reconnectInterval = Math.min(RECONNECT_MAX_S, this.reconnectInterval * 2);
      }
      m.lastClose = ev ? { code: ev.code, reason: ev.reason } : null;
      // Pictures still waiting in the decoder's buffer are lost with the connection.
      m.droppedFrames += Math.max(0, m.picturesReceived - m.decodedFrames - countedDrops);
      countedDrops = Math.max(countedDrops, m.picturesReceived - m.decodedFrames);
      if (ev && ev.code === CLOSE_NO_SUCH_STREAM) {
        this.reconnectInterval = OFFLINE_RETRY_S;
        setState('offline');
      } else if (this.shouldAttemptReconnect && m.state !== 'offline') {
        setState('reconnecting');
      }
      super.onClose(ev);
    }

    onMessage(ev) {
      m.messages += 1;
      m.bytesReceived += ev.data.byteLength || 0;
      super.onMessage(ev);
    }
  }

  // A new connection starts at a keyframe with fresh TS packets: drop half-parsed packets of the old one.
  function resetDemuxer() {
    var demuxer = player && player.demuxer;
    if (!demuxer) { return; }
    demuxer.leftoverBytes = null;
    var info = demuxer.pesPacketInfo || {};
    Object.keys(info).forEach(function (id) {
      var pi = info[id];
      if (pi) {
        pi.currentLength = 0;
        pi.totalLength = 0;
        pi.buffers = [];
      }
    });
  }

  var countedDrops = 0;        // picturesReceived - decodedFrames already counted as dropped
  var frameIntervalMs = 40;    // from the stream's frame rate once the decoder knows it

  // Count the pictures the demuxer hands to the video decoder (one PES packet each).
  function countPictures() {
    var video = player && player.video;
    if (!video || video.mpegcastCounted || typeof video.write !== 'function') { return; }
    var write = video.write;
    video.write = function () {
      m.picturesReceived += 1;
      return write.apply(this, arguments);
    };
    video.mpegcastCounted = true;
  }

  function onVideoDecode(decoder) {
    var now = performance.now();
    if (decoder && decoder.frameRate) { frameIntervalMs = 1000 / decoder.frameRate; }
    if (m.state === 'live' && m.lastDecodeAt && now - m.lastDecodeAt > 2 * frameIntervalMs) { m.lateFrames += 1; }
    m.decodedFrames += 1;
    m.lastDecodeAt = now;
    decodeTimes.push(now);
    // The JS decoder knows the picture size; with the WASM decoder, ask the renderer.
    var size = decoder && decoder.width ? decoder : (player && player.renderer) || null;
    if (size && size.width) {
      m.width = size.width;
      m.height = size.height;
    }
    // Pictures still buffered after the socket closed do not make the stream live again.
    if (m.state !== 'live' && socketOpen) { setState('live'); }
  }

  var lastBytes = { n: 0, at: performance.now() };

  function tick() {
    var now = performance.now();
    while (decodeTimes.length && decodeTimes[0] < now - 1000) { decodeTimes.shift(); }
    m.fps = decodeTimes.length;
    if (now - lastBytes.at >= 1000) {
      m.bitrateBps = Math.round((m.bytesReceived - lastBytes.n) * 8 / ((now - lastBytes.at) / 1000));
      lastBytes = { n: m.bytesReceived, at: now };
    }
    if (m.state === 'live' && now - m.lastDecodeAt > NO_VIDEO_AFTER_MS) {
      m.state = 'waiting';
      waitingSince = now;
    }
    render();
    renderStats();
  }

  decideWasm().then(function (wasm) {
    var useGl = params.get('gl') !== '0';
    m.decoder = wasm ? 'wasm' : 'js';
    try {
      player = new JSMpeg.Player(url, {
        source: MpegcastSource,
        canvas: canvas,
        audio: false,
        disableWebAssembly: !wasm,
        disableGl: !useGl,
        pauseWhenHidden: false,
        videoBufferSize: 1024 * 1024,
        onVideoDecode: onVideoDecode
      });
    } catch (e) {
      fail('cannot start the player: ' + (e && e.message ? e.message : e));
      return;
    }
    m.player = player;
    m.renderer = player.renderer instanceof JSMpeg.Renderer.WebGL ? 'webgl' : 'canvas2d';
    countPictures();
    render();
    window.setInterval(tick, 500);
  });
}());
