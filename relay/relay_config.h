// mpegcast-relay configuration: the keys of conf/relay.conf, their defaults and validation.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cidr.h"
#include "config_file.h"
#include "snapshot_service.h"
#include "stream_hub.h"
#include "url.h"

namespace mpegcast::relay {

/// Per-stream settings from the `streams` list.
struct StreamPolicy {
  std::string secret;          // empty: publishing only from loopback
  bool allow_takeover = false;  // a second publisher replaces the first instead of getting 409
};

/// A raw TCP or UDP ingest listener bound to one stream (relay.conf `ingest.tcp` / `ingest.udp`).
struct RawIngestConfig {
  ListenAddress listen;
  std::string stream;
  std::string multicast_group;  // UDP only: IPv4 group to join ("" = unicast)
  CidrList allow;               // publisher addresses; empty = any
  std::string allow_text;       // for logs
};

/// A downstream push link (relay.conf `push` list): the local stream `stream` is written to `url`.
struct PushConfig {
  std::string stream;
  std::string url;  // as configured ("http://HOST:PORT/PATH[?secret=S]", "tcp://HOST:PORT",
                    // "udp://GROUP:PORT?ttl=4", "srt://HOST:PORT?passphrase=…"); may hold a secret
  Url target;       // parsed `url`; port filled in (80 for http/ws when absent)
  std::string api;  // the downstream relay's API base URL ("http://HOST:8080"; "" = not known), for the tree view
};

/// A pull rule (relay.conf `pull` list): streams matching `streams` are fetched from the first
/// upstream that has them (GET <upstream>/live/<stream>.ts, or ws://…/live/<stream>).
struct PullConfig {
  std::string streams;                 // a stream name or a glob ("*", "cam*")
  std::vector<std::string> upstream_urls;  // as configured (may hold secrets), tried in order
  std::vector<Url> upstreams;          // parsed, port filled in
  bool on_demand = true;               // pull only while somebody here watches (else always)
  int64_t idle_timeout_s = 10;         // on demand: stop this long after the last local subscriber left
  int64_t start_timeout_s = 5;         // on demand: no upstream has the stream within this → 404 / 4404
};

/// Who may read /api/…, /metrics and the dashboard page (relay.conf `api`; see api_access.h).
struct ApiAccessConfig {
  CidrList allow;          // empty: any address
  std::string allow_text;  // for the start-up log line
  std::string token;       // empty: none needed
  bool restricted() const { return !allow.empty() || !token.empty(); }
};

/// Everything the relay reads from its config file (every field has its default here).
struct RelayConfig {
  std::string node_id;                       // "" → host name
  std::string log_level = "info";
  /// "epoll": libwebsockets on a libev loop (epoll); "poll": libwebsockets' own poll() loop, which
  /// costs more CPU per viewer (kept for troubleshooting, and used when libev is unavailable).
  std::string event_loop = "epoll";
  ListenAddress listen{"0.0.0.0", 8080};     // viewers: web, API, WS, HTTP-TS
  bool reuse_port = false;                   // share the viewer port with other instances (SO_REUSEPORT)
  ListenAddress api_listen{"127.0.0.1", 0};  // this instance's own API/metrics listener (port 0: none)
  ListenAddress ingest_listen{"127.0.0.1", 8081};  // publishers
  std::string web_root = MPEGCAST_DEFAULT_WEB_ROOT;  // ${datadir}/mpegcast/web, set by CMake
  std::string default_stream = "live";       // target of the JSMpeg-compatible POST /<secret>

  HubConfig hub;
  int64_t viewer_sndbuf_bytes = 64 * 1024;   // SO_SNDBUF cap per viewer socket
  size_t max_header_bytes = 8192;            // request line + headers, ingest and viewers
  int64_t request_timeout_s = 10;            // to send a complete request head
  int64_t max_connections = 8192;            // open sockets of all kinds; beyond it accepting pauses
  int64_t max_connections_per_address = 256; // open sockets from one peer address (0: no limit)
  CidrList exempt_networks;                  // peers without a per-address limit (default: loopback)
  int64_t publisher_timeout_s = 10;          // a publisher silent this long is dropped
  int64_t publisher_start_timeout_s = 10;    // a publisher must send a keyframe or 64 KiB of TS within this
  bool loopback_publish_without_secret = true;
  bool dynamic_streams = true;               // loopback publishers may use any valid stream name

  std::map<std::string, StreamPolicy> streams;  // by stream name
  std::vector<RawIngestConfig> tcp_ingest;
  std::vector<RawIngestConfig> udp_ingest;
  std::vector<PushConfig> push;               // downstream push links
  std::vector<PullConfig> pull;               // upstream pull rules, first match wins
  int64_t cascade_max_hops = 8;              // a push that passed more relays than this is refused
  ApiAccessConfig api_access;                // relay.conf `api`
  SnapshotConfig snapshot;                   // relay.conf `snapshot`: GET /live/STREAM.jpg
};

/// Reads and validates `file` (all keys optional). Throws ConfigError (`FILE:LINE: key: problem`).
RelayConfig load_relay_config(ConfigFile& file);

}  // namespace mpegcast::relay
