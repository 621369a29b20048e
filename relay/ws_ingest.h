// WebSocket publish: ws://HOST:INGEST_PORT/publish/<stream>, binary messages of MPEG-TS (any
// split into messages). The ingest listener is a raw socket (lws 4.1 cannot de-chunk HTTP
// request bodies), so when its HTTP parser sees a WebSocket handshake it hands the connection
// to a listener-less vhost whose protocol does the handshake and framing with libwebsockets.
#pragma once
#include <cstddef>
#include <cstdint>

struct lws;
struct lws_protocols;

namespace mpegcast::relay {

struct RelayState;

/// The protocol of the WebSocket ingest vhost (protocols[0]: handshakes without a subprotocol).
const lws_protocols& ws_ingest_protocol();

/// Hands the raw ingest connection `raw` over to `relay.ws_ingest_vhost`: the new connection
/// gets a duplicate of the socket and `head` (the `len` bytes read so far: the request head,
/// at most kMaxHandOverBytes) to parse first. The caller then closes `raw`, which closes only
/// its own descriptor. The WebSocket vhost logs what becomes of the connection; a head longer
/// than kMaxHandOverBytes or a failure to duplicate the socket just closes it.
void hand_over_to_ws_ingest(lws* raw, RelayState& relay, const uint8_t* head, size_t len);

/// Largest request head lws takes along with an adopted socket (its header table rx buffer).
constexpr size_t kMaxHandOverBytes = 2048;

}  // namespace mpegcast::relay
