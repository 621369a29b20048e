// The settings of one libavformat output link: a capture target (capture.conf `targets`) or a
// relay push link to udp:// or srt:// (relay.conf `push`, with these defaults).
#pragma once
#include <cstdint>
#include <string>

namespace mpegcast {

struct AvOutputConfig {
  std::string url;                     // any URL libavformat can open for writing; may hold a secret
  int64_t queue_ms = 2000;             // queued video beyond this → drop whole GOPs
  int64_t queue_bytes = 4000000;       // or beyond this many bytes
  int64_t rw_timeout_ms = 5000;        // a peer that accepts nothing for this long is dropped
  int64_t reconnect_initial_ms = 250;
  int64_t reconnect_max_ms = 5000;
  int64_t send_buffer_bytes = 131072;  // SO_SNDBUF for tcp/http outputs (0 = kernel default)
  std::string user_agent = "mpegcast";  // http(s) outputs
};

}  // namespace mpegcast
