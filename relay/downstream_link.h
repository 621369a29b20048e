// What every push link (relay.conf `push`) offers the relay, whatever carries it: lws links
// (PushLink: http, ws, tcp) and libavformat links (AvPushLink: udp, srt). links.cpp picks the
// kind from the scheme table's transport.
#pragma once
#include <cstdint>
#include <string>

namespace mpegcast::relay {

/// One push link's counters, for the API.
struct PushLinkStats {
  std::string stream;
  std::string url;            // with secrets masked
  bool connected = false;     // a connection is up (for http: the request head is out)
  uint64_t bytes_out = 0;     // TS payload bytes written (framing not counted)
  uint64_t connects = 0;      // connections that came up
  uint64_t failures = 0;      // connect errors, refusals and unplanned closes
  std::string last_error;     // "" when none yet
  uint64_t dropped_gops = 0;  // GOPs its output queue dropped (udp/srt links; lws links skip ahead in the hub instead: 0)
};

/// A push link, created and used on the service thread.
class DownstreamLink {
 public:
  virtual ~DownstreamLink() = default;
  /// Starts the link's timer; it connects once its local stream is live.
  virtual void start() = 0;
  /// Service thread: a snapshot of its counters.
  virtual PushLinkStats stats() const = 0;
};

}  // namespace mpegcast::relay
