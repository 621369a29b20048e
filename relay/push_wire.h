// How a push link puts its stream on the wire, one kind per scheme (chosen once per link):
//   http  one long POST, Transfer-Encoding: chunked, video/mp2t, X-Mpegcast-Via; each chunk is
//         written straight from the shared chunk with its size line in the chunk's headroom; the
//         downstream's response (a refusal, or the end of the request) ends the connection;
//   ws    one binary message per chunk from a per-link copy (an lws client XORs its mask into
//         the payload in place, which would corrupt the shared chunk for every other subscriber);
//   tcp   the raw TS bytes.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunk.h"

namespace mpegcast::relay {

class PushWire {
 public:
  virtual ~PushWire() = default;
  /// A connection is up: `target` is the request target (path?query), `host` the Host value,
  /// `via` the X-Mpegcast-Via value to send.
  virtual void start(const std::string& /*target*/, const std::string& /*host*/, const std::string& /*via*/) {}
  /// True while something must go out before the first chunk (an HTTP request head).
  virtual bool preamble_pending() const { return false; }
  /// Writes that preamble. Returns false when the write failed.
  virtual bool write_preamble(lws* /*wsi*/) { return true; }
  /// Writes one chunk. Returns false when the write failed.
  virtual bool write_chunk(lws* wsi, const Chunk& c) = 0;
  /// A deliberate close: ends the stream politely (the HTTP body's last chunk, a WS close frame).
  virtual void finish(lws* /*wsi*/) {}
  /// Bytes from the downstream. nullopt to go on; else the reason the connection ends ("refused
  /// by the downstream: 508 Loop Detected: …").
  virtual std::optional<std::string> on_rx(const uint8_t* /*data*/, size_t /*len*/) { return std::nullopt; }
  /// Why the downstream closed, from what it sent (HTTP: its response), "" when nothing.
  virtual std::string close_reason() const { return {}; }
};

/// The wire for link scheme `scheme` ("http", "ws", "tcp"); nullptr for others.
std::unique_ptr<PushWire> make_push_wire(std::string_view scheme);

}  // namespace mpegcast::relay
