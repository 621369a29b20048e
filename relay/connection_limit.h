// The relay-wide connection cap (relay.conf limits.max_connections), enforced at accept time for
// every listener: viewers, ingest (HTTP / WebSocket) and raw TCP ingest.
#pragma once
#include <cstdint>

#include <libwebsockets.h>

namespace mpegcast::relay {

/// Call first in the callback of each vhost's protocols[0]. Counts open connections
/// (LWS_CALLBACK_WSI_CREATE / LWS_CALLBACK_WSI_DESTROY) in RelayState::open_connections and, at
/// LWS_CALLBACK_FILTER_NETWORK_CONNECTION, refuses a new one while max_connections are open
/// (lws then closes the accepted socket; counted, logged at most every 10 s with the count).
/// Returns true when `reason` was one of those three, with `rc` the callback's return value.
bool account_connection(lws* wsi, lws_callback_reasons reason, int& rc);

/// Fits the process's soft RLIMIT_NOFILE to max_connections plus a reserve (listeners, UDP
/// sockets, logs, lws's own descriptors), within the hard limit, so accept() never fails with
/// EMFILE (lws would spin on the listener). Returns the number of connections the limit allows
/// (max_connections, or less when the hard limit is lower; then it logs a warning).
int64_t fit_open_file_limit(int64_t max_connections);

}  // namespace mpegcast::relay
