// Runs JSMpeg's websocket-relay.js (unmodified, fetched by latency.mjs into RELAY_JS) with both of its servers
// on 127.0.0.1: it calls listen(port) with no host, i.e. every address, and the benchmark's servers must stay on
// loopback.
//   RELAY_JS=PATH node jsmpeg_relay_loopback.cjs SECRET STREAM_PORT WEBSOCKET_PORT
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    return listen.call(this, { port: Number(args[0]), host: '127.0.0.1' }, cb);
  }
  if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
// It require()s 'ws', which lives in this directory's node_modules (npm ci here), not beside it.
const wsPath = require.resolve('ws');
const Module = require('module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'ws' ? wsPath : resolve.call(this, request, ...rest);
};
require(process.env.RELAY_JS);
