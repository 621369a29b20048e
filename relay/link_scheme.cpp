#include "link_scheme.h"

namespace mpegcast::relay {
namespace {

constexpr LinkScheme kSchemes[] = {
    // name   transport               push   pull   via    port  path   query  describe
    {"http", Transport::raw, true, true, true, 80, true, true, "http:// (chunked POST / GET of HTTP-TS)"},
    {"ws", Transport::websocket, true, true, true, 80, true, true, "ws:// (WebSocket, binary messages)"},
    {"tcp", Transport::raw, true, false, false, 0, false, false, "tcp:// (raw TS)"},
    {"udp", Transport::libavformat, true, false, false, 0, false, true,
     "udp:// (raw TS, 7 packets a datagram; unicast or multicast, ?ttl=N)"},
    {"srt", Transport::libavformat, true, false, false, 0, false, true, "srt:// (SRT caller, e.g. to MediaMTX or SRS)"},
};

}  // namespace

const LinkScheme* find_link_scheme(std::string_view scheme) {
  for (const LinkScheme& s : kSchemes) {
    if (scheme == s.name) return &s;
  }
  return nullptr;
}

std::string link_schemes_text(bool for_pull) {
  std::string out;
  for (const LinkScheme& s : kSchemes) {
    if (!(for_pull ? s.pull : s.push)) continue;
    out += (out.empty() ? "" : ", ") + std::string(s.describe);
  }
  return out + " (TLS is not supported)";
}

}  // namespace mpegcast::relay
