// How a pull link asks an upstream for a stream and reads it, one kind per scheme:
//   http  GET /live/<stream>.ts (X-Mpegcast-Via: the path the demand passed), then the response:
//         anything but 200 is a refusal; the body (close-delimited or chunked) is the TS;
//   ws    a WebSocket to /live/<stream> (the handshake carries X-Mpegcast-Via); binary messages
//         are the TS.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mpegcast::relay {

/// Where a pull wire delivers what the upstream sends.
class PullSink {
 public:
  virtual ~PullSink() = default;
  /// The upstream accepted: TS follows. `via` is the data path it announced (upstream first,
  /// ending with the upstream), "" when unknown. Returns false to refuse (e.g. a local publisher
  /// took the stream meanwhile).
  virtual bool on_accepted(const std::string& via) = 0;
  /// TS bytes, any alignment. Returns false when the hub refused them (not TS, too fast).
  virtual bool on_ts(const uint8_t* data, size_t len) = 0;
};

class PullWire {
 public:
  virtual ~PullWire() = default;
  /// The path of `stream` on an upstream ("/live/cam1.ts" or "/live/cam1").
  virtual std::string path_for(const std::string& stream) const = 0;
  /// A connection is up: `target` the request target, `host` the Host value, `via` the
  /// X-Mpegcast-Via value to send. A WebSocket wire is accepted by then (it calls on_accepted).
  virtual bool start(const std::string& target, const std::string& host, const std::string& via, PullSink& sink) = 0;
  /// True while the request must still be written (HTTP).
  virtual bool request_pending() const { return false; }
  /// Writes the request. Returns false when the write failed.
  virtual bool write_request(lws* /*wsi*/) { return true; }
  /// Bytes from the upstream. nullopt to go on; else why the connection ends ("refused by the
  /// upstream: 404 Not Found", "upstream sent something that is not MPEG-TS").
  virtual std::optional<std::string> on_rx(const uint8_t* data, size_t len, PullSink& sink) = 0;
  /// The connection closed: why, from what the upstream sent ("" when nothing is known).
  virtual std::string close_reason() { return {}; }
};

/// The wire for link scheme `scheme` ("http", "ws"); nullptr for others.
std::unique_ptr<PullWire> make_pull_wire(std::string_view scheme);

}  // namespace mpegcast::relay
