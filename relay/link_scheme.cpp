#include "link_scheme.h"

namespace mpegcast::relay {
namespace {

constexpr LinkScheme kSchemes[] = {
    {"http", Transport::raw, true, true, true, 80, true, "http:// (chunked POST / GET of HTTP-TS)"},
    {"ws", Transport::websocket, true, true, true, 80, true, "ws:// (WebSocket, binary messages)"},
    {"tcp", Transport::raw, true, false, false, 0, false, "tcp:// (raw TS)"},
};

}  // namespace

const LinkScheme* find_link_scheme(std::string_view scheme) {
  for (const LinkScheme& s : kSchemes) {
    if (scheme == s.name) return &s;
  }
  return nullptr;
}

const char* link_schemes_text(bool for_pull) {
  return for_pull ? "http:// (GET /live/STREAM.ts) or ws:// (/live/STREAM)"
                  : "http:// (chunked POST), ws:// or tcp:// (TLS is not supported)";
}

}  // namespace mpegcast::relay
