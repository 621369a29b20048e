// Why the relay turns a connection or request away, and the one answer each transport gives for
// it: the HTTP status (HTTP-TS viewers, API, ingest POST, WebSocket handshakes), the WebSocket
// close code (an established WebSocket viewer or publisher) and the phrase for the log line and
// the response body. One table, so every transport answers the same refusal the same way.
#pragma once
#include <cstdint>

#include "stream_hub.h"

namespace mpegcast::relay {

enum class Refusal {
  bad_request,            // malformed request, junk instead of HTTP
  method_not_allowed,     // a method this listener does not serve
  body_not_allowed,       // a viewer request with a body (Content-Length / Transfer-Encoding), or two lengths
  upgrade_not_supported,  // Upgrade: other than websocket (h2c among them)
  version_not_supported,  // not HTTP/1.x
  head_too_large,         // request line + headers over max_header_bytes
  not_found,              // no such route
  bad_stream_name,        // not [A-Za-z0-9_-]{1,64}
  no_such_stream,         // nothing published the stream within the wait (publisher_wait_s)
  forbidden,              // wrong or missing publish secret
  stream_busy,            // the stream already has a publisher
  loop_detected,          // X-Mpegcast-Via: a cascade loop or too deep a tree
  too_many_streams,       // limits.max_streams / max_waiting_streams
  too_many_viewers,       // limits.max_viewers
  stream_full,            // limits.max_viewers_per_stream
  flood,                  // the peer sent more than a viewer may (data or control frames)
};

/// How a refusal is answered.
struct RefusalAnswer {
  int http_status;          // e.g. 404
  const char* http_reason;  // e.g. "Not Found"
  uint16_t ws_close_code;   // RFC 6455 §7.4 code, or 4404 (application range) for "no such stream"
  const char* phrase;       // short, for logs and response bodies
};

/// The answer to `r` (a static table entry).
const RefusalAnswer& answer(Refusal r);

/// The refusal a hub error means (HubError::none is not a refusal: bad_request then).
Refusal refusal_of(HubError e);

}  // namespace mpegcast::relay
