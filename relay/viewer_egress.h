// Viewer egress on the public listener: WebSocket `/live/<stream>` (binary messages of whole TS
// packets, what JSMpeg connects to; the "null" subprotocol is an alias for old JSMpeg builds)
// and HTTP-TS `GET /live/<stream>.ts` (video/mp2t, close-delimited body), plus the HTTP routes
// that are not static files (API, metrics, health).
#pragma once

struct lws_protocols;

namespace mpegcast::relay {

/// The viewer listener's protocol, registered first as "mpegcast-live" (HTTP routes, static
/// files, WebSocket viewers without a subprotocol) and again as "null" (JSMpeg's old builds).
lws_protocols viewer_protocol(const char* name);

}  // namespace mpegcast::relay
