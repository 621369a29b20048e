// The relay's links to other relays: downstream push links (relay.conf `push`) and upstream pull
// links (relay.conf `pull`: static ones at start, on-demand ones when a stream this relay lacks
// gets its first subscriber), on one client vhost of their own (no listener) on the relay's
// context and service thread. Push links to udp:// and srt:// write from a thread of their own
// through libavformat (av_push_link.h).
#pragma once
#include <memory>
#include <vector>

#include "downstream_link.h"
#include "pull_link.h"
#include "push_link.h"

struct lws_context;

namespace mpegcast::relay {

struct RelayState;
class Links;

/// Destroys the links: unsubscribes them and drops their connections (which the context's
/// destruction then closes). Must run before lws_context_destroy().
struct LinksDeleter {
  void operator()(Links* l) const;
};
using LinksPtr = std::unique_ptr<Links, LinksDeleter>;

/// Creates the client vhost "links" on `context`, starts one push link per entry of
/// `relay.config.push` (each waits for its local stream's data before connecting) and one pull
/// link per static pull rule, and registers for the hub's demand events (on-demand pulls). Call after the
/// listening vhosts exist and after relay.resolver is set, on the service thread. Returns an object
/// with no links when there are none, nullptr (after one log line) when the vhost cannot be
/// created. `relay` must outlive the result.
LinksPtr start_links(lws_context* context, RelayState& relay);

/// A snapshot of every push link's counters (service thread only). `links` may be null.
std::vector<PushLinkStats> push_link_stats(const Links* links);
/// A snapshot of every pull link's counters (service thread only). `links` may be null.
std::vector<PullLinkStats> pull_link_stats(const Links* links);

}  // namespace mpegcast::relay
