// The connection caps of every listener (viewers, ingest HTTP / WebSocket, raw TCP ingest),
// enforced at accept time: relay.conf limits.max_connections over all, and
// limits.max_connections_per_address per peer address (outside limits.exempt_networks).
#pragma once
#include <cstdint>

#include <libwebsockets.h>

namespace mpegcast::relay {

struct RelayState;

/// Call first in the callback of each listening vhost's protocols[0]. Counts open connections
/// (LWS_CALLBACK_WSI_CREATE / LWS_CALLBACK_WSI_DESTROY) in RelayState::open_connections and per
/// peer address, and at LWS_CALLBACK_FILTER_NETWORK_CONNECTION refuses a new one (lws then closes
/// the accepted socket) while max_connections are open, or while its address already holds
/// max_connections_per_address. Refusals are counted and logged at most once per 10 s (per
/// address for the per-address cap). Returns true when `reason` was one of those three, with `rc`
/// the callback's return value.
bool account_connection(lws* wsi, lws_callback_reasons reason, void* in, int& rc);

/// The same admission for a socket the relay accepted itself (the reuse_port listener, see
/// shared_listener.h): true to admit (then adopt it into lws at once), false to close it.
bool admit_accepted(RelayState& relay, int fd);

/// Fits the process's soft RLIMIT_NOFILE to max_connections plus a reserve (listeners, UDP
/// sockets, logs, lws's own descriptors), within the hard limit, so accept() never fails with
/// EMFILE (lws would spin on the listener). Returns the number of connections the limit allows
/// (max_connections, or less when the hard limit is lower; then it logs a warning).
int64_t fit_open_file_limit(int64_t max_connections);

}  // namespace mpegcast::relay
