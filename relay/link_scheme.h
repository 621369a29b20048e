// The URL schemes of relay links (relay.conf `push` and `pull`), one row each: how the
// connection is made, which directions it serves, whether it carries the cascade path. The next
// scheme is a row here plus its wire format, not a hunt for `scheme ==` tests.
#pragma once
#include <string>
#include <string_view>

namespace mpegcast::relay {

/// How a link's connection is made.
enum class Transport {
  raw,          // an lws raw socket: the link writes and reads its own bytes (HTTP requests and responses, raw TS)
  websocket,    // an lws WebSocket client: lws frames the messages
  libavformat,  // no lws connection: a thread of its own writes through libavformat (AvPushLink, shared/av_output_link.h)
};

struct LinkScheme {
  const char* name;       // "http"
  Transport transport;    // how the connection is made
  bool push;              // a push link may use it
  bool pull;              // a pull link may use it
  bool carries_via;       // sends X-Mpegcast-Via (loop and depth refusal downstream)
  int default_port;       // 0: the URL must name a port
  bool takes_path;        // a path is meaningful
  bool takes_query;       // a query is meaningful (options such as ?secret=, ?ttl=, ?latency=)
  const char* describe;   // for the config error message
};

/// The row for `scheme` (lower case), or nullptr when links do not speak it.
const LinkScheme* find_link_scheme(std::string_view scheme);

/// "http:// (…), ws:// (…), …" for config errors about `push` (`pull` when `for_pull`), from the
/// rows that serve that direction.
std::string link_schemes_text(bool for_pull);

}  // namespace mpegcast::relay
