// Admission on the viewer listener: what a request must look like before it is routed, and how
// the relay answers one that does not, including bytes that are not HTTP at all. The viewer
// listener serves GET only (pages, API, HTTP-TS, WebSocket upgrades); a request with a body, a
// second Content-Length, an Upgrade other than websocket (h2c), CONNECT or an unknown method is
// answered here and closed, never handed to lws's other paths (h2c, CONNECT's raw tunnel, a
// kept-alive body read) where it would escape every timeout.
#pragma once
#include <libwebsockets.h>

#include <optional>
#include <string>

#include "refusal.h"

namespace mpegcast::relay {

/// Checks the request head lws has parsed (LWS_CALLBACK_FILTER_HTTP_CONNECTION, and the
/// WebSocket handshake's LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION): GET only (RFC 9110 §9.3.1);
/// no body (Content-Length other than one "0", or any Transfer-Encoding: RFC 9112 §6.3 makes two
/// lengths or a length beside chunked a smuggling vector). Returns the refusal or nullopt.
std::optional<Refusal> check_viewer_request(lws* wsi);

/// Writes the refusal's HTTP answer on an HTTP connection (status, text body with the phrase,
/// `Allow: GET` for 405, Connection: close). The caller then returns non-zero to close. Returns
/// false when the write failed.
bool write_refusal(lws* wsi, Refusal r);

/// The answer to bytes that lws could not parse as an HTTP request (its raw fallback): 405 for
/// a request line with a method the listener does not serve (e.g. CONNECT, PROPFIND), else 400.
/// `head` is what the peer sent first.
Refusal classify_unparsed(const unsigned char* head, size_t len);

/// Sends the refusal's HTTP answer straight on socket `fd` (a fresh connection whose send buffer
/// is empty, so the small answer fits), without lws. Returns false when the send failed.
bool send_raw_refusal(int fd, Refusal r);

}  // namespace mpegcast::relay
