// The URL schemes of relay links (relay.conf `push` and `pull`), one row each: how the
// connection is made, which directions it serves, whether it carries the cascade path. The next
// scheme is a row here plus its wire format, not a hunt for `scheme ==` tests.
#pragma once
#include <string_view>

#include "outbound_connection.h"

namespace mpegcast::relay {

struct LinkScheme {
  const char* name;       // "http"
  Transport transport;    // lws raw socket or WebSocket client
  bool push;              // a push link may use it
  bool pull;              // a pull link may use it
  bool carries_via;       // sends X-Mpegcast-Via (loop and depth refusal downstream)
  int default_port;       // 0: the URL must name a port
  bool takes_path;        // a path (and query) is meaningful
  const char* describe;   // for the config error message
};

/// The row for `scheme` (lower case), or nullptr when links do not speak it.
const LinkScheme* find_link_scheme(std::string_view scheme);

/// "http:// (…), ws:// (…), …" for config errors about `push` (`pull` when `for_pull`).
const char* link_schemes_text(bool for_pull);

}  // namespace mpegcast::relay
