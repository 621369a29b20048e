// Viewer egress on the public listener: WebSocket `/live/<stream>` (binary messages of whole TS
// packets, what JSMpeg connects to; the "null" subprotocol is an alias for old JSMpeg builds)
// and HTTP-TS `GET /live/<stream>.ts` (video/mp2t, close-delimited body), plus the HTTP routes
// that are not static files (API, metrics, health).
#pragma once

struct lws_protocols;

namespace mpegcast::relay {

/// HTTP protocol of the public vhost: /live/<stream>.ts, /api/v1/…, /metrics, /healthz.
const lws_protocols& http_routes_protocol();
/// WebSocket viewer protocol, registered under the given name ("mpegcast-live" and "null").
lws_protocols ws_viewer_protocol(const char* name);

}  // namespace mpegcast::relay
