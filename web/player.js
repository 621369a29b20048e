// mpegcast player: JSMpeg on a canvas, fed by ws(s)://<this host>/live/<stream>.
//
// player.html?stream=NAME   (default cam1)
//   &wasm=0|1               force JSMpeg's JS or WebAssembly decoder (default: WASM only where CSP allows it)
//   &gl=0                   force the 2D canvas renderer instead of WebGL
//
// CSP-safe: loaded from a file, no inline script, no inline handlers, no inline styles.
// Test hooks: window.mpegcast holds counters (decodedFrames, fps, state, connects, …).
(function () {
  'use strict';

  var STREAM_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
  var RECONNECT_MIN_S = 1;
  var RECONNECT_MAX_S = 5;
  var NO_VIDEO_AFTER_MS = 2000;

  var params = new URLSearchParams(window.location.search);
  var stream = params.get('stream') || 'cam1';
  var statusEl = document.getElementById('status');
  var nameEl = document.getElementById('stream-name');
  var canvas = document.getElementById('video');

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
    state: 'connecting',     // connecting | waiting | live | reconnecting | error
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
      default: text = 'error: ' + (m.error || 'unknown');
    }
    if (m.decoder && m.state !== 'error') { text += ' · ' + m.decoder + '/' + m.renderer; }
    if (statusEl.textContent !== text) { statusEl.textContent = text; }
    statusEl.className = 'status status-' + m.state;
  }

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
      if (m.state !== 'live' && m.state !== 'waiting') {
        setState(m.opens > 0 || m.closes > 0 ? 'reconnecting' : 'connecting');
      }
      super.start();
    }

    onOpen() {
      m.opens += 1;
      socketOpen = true;
      this.openedThisAttempt = true;
      this.reconnectInterval = RECONNECT_MIN_S;
      resetDemuxer();
      setState('waiting');
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
      if (this.shouldAttemptReconnect) { setState('reconnecting'); }
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

  function onVideoDecode(decoder) {
    var now = performance.now();
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

  function tick() {
    var now = performance.now();
    while (decodeTimes.length && decodeTimes[0] < now - 1000) { decodeTimes.shift(); }
    m.fps = decodeTimes.length;
    if (m.state === 'live' && now - m.lastDecodeAt > NO_VIDEO_AFTER_MS) {
      m.state = 'waiting';
    }
    render();
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
    render();
    window.setInterval(tick, 500);
  });
}());
