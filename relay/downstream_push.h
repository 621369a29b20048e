// Downstream push links (relay.conf `push`): each link is a hub subscriber of one local stream
// that writes the stream to another relay (or any TS receiver) over an lws client connection on
// the relay's own context and service thread:
//   http://HOST[:PORT]/PATH[?query]  one long POST, Transfer-Encoding: chunked, video/mp2t,
//                                    X-Mpegcast-Via (the path, for loop/depth refusal downstream);
//   ws://HOST[:PORT]/PATH[?query]    WebSocket, one binary message per chunk, X-Mpegcast-Via;
//   tcp://HOST:PORT                  raw TS bytes (no hop information).
// A link is connected while its local stream has a publisher and data arrived within
// max(1 s, publisher_timeout_s / 2); it closes that long after the data stopped and reconnects
// when data flows again. Failures reconnect with exponential backoff and jitter, with one log line
// per change of failure (URLs in logs have their `secret=` values masked). Host names are
// resolved on a helper thread (getaddrinfo, IPv4), again on every reconnect; numeric addresses
// connect directly.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct lws_context;

namespace mpegcast::relay {

struct RelayState;
class PushLinks;

/// Destroys the links: unsubscribes them and detaches them from their connections (which the
/// context's destruction then closes). Must run before lws_context_destroy().
struct PushLinksDeleter {
  void operator()(PushLinks* p) const;
};
using PushLinksPtr = std::unique_ptr<PushLinks, PushLinksDeleter>;

/// Creates the client vhost "push" (no listener) on `context` and starts one link per entry of
/// `relay.config.push`; each waits for its local stream's data before connecting. Call after the
/// listening vhosts exist, on the service thread (before lws_service runs is fine). Returns an
/// object with no links when the list is empty, nullptr (after one log line) when the vhost cannot
/// be created. `relay` must outlive the result.
PushLinksPtr start_push_links(lws_context* context, RelayState& relay);

/// One link's counters, for the API.
struct PushLinkStats {
  std::string stream;
  std::string url;           // with secrets masked
  bool connected = false;    // a connection is up (for http: the request head is out)
  uint64_t bytes_out = 0;    // TS payload bytes written (framing not counted)
  uint64_t connects = 0;     // connections that came up
  uint64_t failures = 0;     // connect errors, refusals and unplanned closes
  std::string last_error;    // "" when none yet
};

/// A snapshot of every link's counters (service thread only). `links` may be null (no links).
std::vector<PushLinkStats> push_link_stats(const PushLinks* links);

/// `url` with the value of every `secret=` query parameter replaced by "***", for logs and the API.
std::string redact_url(std::string_view url);

}  // namespace mpegcast::relay
