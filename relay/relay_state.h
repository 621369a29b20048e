// State shared by the relay's transports: config, hub, counters. One instance per process,
// reachable from every lws callback through lws_context_user().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "log_limiter.h"
#include "relay_config.h"
#include "resolver.h"
#include "snapshot_service.h"
#include "stream_hub.h"

struct lws;
struct sockaddr;
struct lws_context;
struct lws_vhost;

namespace mpegcast::relay {

/// Relay-wide counters (monotonic since start), exported by /api/v1/node and /metrics.
struct RelayCounters {
  uint64_t ingest_connections = 0;
  uint64_t ingest_refused = 0;        // bad request, auth, busy, limits
  uint64_t ingest_timeouts = 0;       // no complete request head / silent publisher
  uint64_t viewer_connections = 0;    // WS + HTTP-TS viewers accepted
  uint64_t viewer_refused = 0;        // limits, bad names
  uint64_t http_requests = 0;         // API, metrics, static
  uint64_t bytes_out = 0;             // payload bytes written to viewers
  uint64_t viewer_partial_writes = 0; // chunks the kernel took only part of (the viewer's socket was full)
  uint64_t connections_refused = 0;   // accepted and closed at once: limits.max_connections reached
  uint64_t connections_refused_per_address = 0;  // likewise: limits.max_connections_per_address reached
  uint64_t api_refused = 0;           // API / metrics / dashboard requests refused by relay.conf `api` (401 / 403)
};

class Links;

/// A connection that wants a call about once a second on the service thread (RelayState::periodic,
/// walked by the housekeeping timer). every_second() must not add or remove tasks; closing the
/// connection asynchronously (lws timeouts, writable callbacks) is fine.
class PeriodicTask {
 public:
  virtual ~PeriodicTask() = default;
  virtual void every_second(int64_t now_ms) = 0;
};

/// The relay's shared state.
struct RelayState {
  explicit RelayState(RelayConfig c) : config(std::move(c)), hub(config.hub) {}
  RelayConfig config;
  StreamHub hub;
  RelayCounters counters;
  std::string node_id;
  int64_t started_s = 0;        // wall clock
  int viewer_port = 0;          // actual ports (after binding port 0)
  int ingest_port = 0;
  int64_t open_connections = 0;      // sockets of all listeners (see connection_limit.h)
  int64_t max_connections = 0;       // limits.max_connections as the open-file limit allows
  int64_t connection_refusal_logged_ms = 0;
  // Per-address connection counts (see connection_limit.h); addresses as sockaddr_host() text.
  std::unordered_map<std::string, int> connections_by_address;
  std::unordered_map<const lws*, std::string> address_of_connection;  // counted connections only
  std::string pending_address;       // accepted, its wsi not created yet
  /// Lines a remote peer can cause (refusals, joins, closes) go through this, keyed by address.
  LogLimiter peer_log;
  std::unordered_set<PeriodicTask*> periodic;  // e.g. WebSocket viewers' receive budget
  lws_context* context = nullptr;        // the relay's lws context (set while serving)
  lws_vhost* ws_ingest_vhost = nullptr;
  lws_vhost* api_vhost = nullptr;        // api_listen's vhost (null: none)
  int api_port = 0;  // listener-less vhost that WebSocket publishers are handed to
  const Links* links = nullptr;        // push and pull links, for the API (null: none started)
  std::unique_ptr<Resolver> resolver;   // host names off the service thread (set while serving)
  std::unique_ptr<SnapshotService> snapshots;  // GET /live/STREAM.jpg (set while serving; stopped before the context goes)
};

/// The RelayState of the context `wsi` belongs to.
RelayState& relay_state(lws* wsi);

/// "ADDR:PORT" ("[ADDR]:PORT" for IPv6) of an AF_INET/AF_INET6 address ("?" for others).
std::string sockaddr_text(const sockaddr* sa);
/// "ADDR" of an AF_INET/AF_INET6 address, without port or brackets ("?" for others).
std::string sockaddr_host(const sockaddr* sa);
/// The address part of a sockaddr_text() / peer_address() string ("1.2.3.4:5" → "1.2.3.4",
/// "[::1]:5" → "::1"): the key of per-address limits and log limits.
std::string address_of(const std::string& peer);
/// "ADDR:PORT" of the socket's peer ("?" when unknown).
std::string peer_address(int fd);
/// True when the socket's peer is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104).
bool peer_is_loopback(int fd);
/// Caps the kernel send buffer of `fd` (SO_SNDBUF) so lag shows up in the hub, not in the kernel.
void cap_send_buffer(int fd, int64_t bytes);

}  // namespace mpegcast::relay
