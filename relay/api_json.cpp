#include "api_json.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "clock.h"
#include "links.h"
#include "url.h"
#include "version.h"

namespace mpegcast::relay {
namespace {

nlohmann::json or_null(const std::string& v) { return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(v); }

/// One stream's document (field by field in docs/api.md).
nlohmann::json to_json(const StreamStats& s) {
  nlohmann::json j;
  j["name"] = s.name;
  j["publisher"] = s.has_publisher ? nlohmann::json(s.publisher) : nlohmann::json(nullptr);
  j["publisher_kind"] = s.has_publisher ? or_null(s.publisher_kind) : nlohmann::json(nullptr);
  j["publisher_protocol"] = s.has_publisher ? or_null(s.publisher_protocol) : nlohmann::json(nullptr);
  j["via"] = s.via;
  j["connected_since"] = s.has_publisher ? nlohmann::json(s.publisher_since_s) : nlohmann::json(nullptr);
  j["uptime_s"] = std::max<int64_t>(0, wall_time_s() - s.created_s);
  if (s.video.width > 0) {
    j["video"] = {{"codec", s.video.codec}, {"width", s.video.width}, {"height", s.video.height},
                  {"fps", s.video.fps > 0 ? nlohmann::json(std::round(s.video.fps * 1000) / 1000) : nlohmann::json(nullptr)}};
  } else {
    j["video"] = s.video_stream_type ? nlohmann::json{{"codec", or_null(codec_name(s.video_stream_type))}, {"width", nullptr},
                                                      {"height", nullptr}, {"fps", nullptr}}
                                     : nlohmann::json(nullptr);
  }
  j["audio"] = s.audio_codec.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"codec", s.audio_codec}};
  j["bytes_in"] = s.bytes_in;
  j["bytes_out"] = s.bytes_out;
  j["bitrate_in_bps"] = s.bitrate_in_bps;
  j["bitrate_out_bps"] = s.bitrate_out_bps;
  j["viewers"] = s.subscribers;
  nlohmann::json by_egress = {{"websocket", 0}, {"http-ts", 0}, {"push", 0}};
  for (const auto& [egress, n] : s.subscribers_by_egress) by_egress[egress] = n;
  j["subscribers_by_egress"] = by_egress;
  j["chunks"] = s.chunks;
  j["keyframes"] = s.keyframes;
  j["gop_ms"] = s.gop_ms;
  j["discarded_bytes"] = s.discarded_bytes;
  j["resyncs"] = s.resyncs;
  j["cc_errors"] = s.cc_errors;
  j["lag_skips"] = s.lag_skips;
  j["stalled_viewers_closed"] = s.stalls;
  j["publishers_total"] = s.publishers_total;
  j["cache_bytes"] = s.cache_bytes;
  j["video_stream_type"] = s.video_stream_type;
  j["source"] = s.source ? nlohmann::json{{"state", to_string(s.source->state)},
                                          {"since", s.source->since_s > 0 ? nlohmann::json(s.source->since_s)
                                                                          : nlohmann::json(nullptr)}}
                         : nlohmann::json(nullptr);
  return j;
}

/// CPU seconds (user + system) and resident memory of this process.
void process_usage(double& cpu_s, uint64_t& rss_bytes) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  rss_bytes = 0;
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, rss_pages = 0;
  if (statm >> size_pages >> rss_pages) rss_bytes = rss_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string address_text(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string link_label(const PushLinkStats& l) { return l.url; }
std::string link_label(const PullLinkStats& l) { return l.upstream; }

/// The API base URL of a pull upstream (a relay's viewer base URL; ws:// → http://), masked.
std::string upstream_api(const Url& u) {
  const bool tls = u.scheme == "https" || u.scheme == "wss";
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(u.port);
}

/// The downstream relay's API base URL configured for push link `p` ("" when none).
std::string push_api(const RelayConfig& cfg, const PushLinkStats& p) {
  for (const PushConfig& c : cfg.push) {
    if (c.stream == p.stream && redact_url(c.url) == p.url) return redact_url(c.api);
  }
  return {};
}

/// Neighbouring relays known from the config, for the dashboard's tree view: pull rules'
/// upstreams (also while no pull runs) and push links' `api`.
nlohmann::json peers_json(const RelayConfig& cfg) {
  nlohmann::json peers = nlohmann::json::array();
  for (const PullConfig& rule : cfg.pull) {
    for (const Url& u : rule.upstreams) {
      peers.push_back({{"relation", "upstream"}, {"api", upstream_api(u)}, {"streams", rule.streams}});
    }
  }
  for (const PushConfig& p : cfg.push) {
    if (!p.api.empty()) peers.push_back({{"relation", "downstream"}, {"api", redact_url(p.api)}, {"streams", p.stream}});
  }
  return peers;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string streams_json(const RelayState& relay) {
  nlohmann::json arr = nlohmann::json::array();
  for (const StreamStats& s : relay.hub.stats()) arr.push_back(to_json(s));
  return nlohmann::json{{"streams", arr}}.dump();
}

std::string stream_json(const RelayState& relay, const std::string& name) {
  const Stream* st = relay.hub.find(name);
  return st ? to_json(st->stats()).dump() : std::string();
}

std::string node_json(const RelayState& relay) {
  const RelayCounters& c = relay.counters;
  nlohmann::json j;
  j["node_id"] = relay.node_id;
  j["version"] = kVersion;
  j["uptime_s"] = wall_time_s() - relay.started_s;
  j["streams"] = relay.hub.stream_count();
  j["viewers"] = relay.hub.subscriber_count();
  j["viewer_port"] = relay.viewer_port;
  j["api_port"] = relay.api_port;
  j["ingest_port"] = relay.ingest_port;
  j["ingest_connections"] = c.ingest_connections;
  j["ingest_refused"] = c.ingest_refused;
  j["ingest_timeouts"] = c.ingest_timeouts;
  j["viewer_connections"] = c.viewer_connections;
  j["viewer_refused"] = c.viewer_refused;
  j["bytes_out"] = c.bytes_out;
  j["viewer_partial_writes"] = c.viewer_partial_writes;
  j["started"] = relay.started_s;
  double cpu_s = 0;
  uint64_t rss = 0;
  process_usage(cpu_s, rss);
  j["cpu_s"] = std::round(cpu_s * 1000) / 1000;
  j["rss_bytes"] = rss;
  uint64_t bytes_in = 0;
  for (const StreamStats& s : relay.hub.stats()) bytes_in += s.bytes_in;
  j["bytes_in"] = bytes_in;
  nlohmann::json listeners = nlohmann::json::array();
  const RelayConfig& cfg = relay.config;
  listeners.push_back({{"kind", "viewers"}, {"address", address_text(cfg.listen.host, relay.viewer_port)},
                       {"reuse_port", cfg.reuse_port}});
  listeners.push_back({{"kind", "ingest"}, {"address", address_text(cfg.ingest_listen.host, relay.ingest_port)}});
  if (relay.api_port > 0) listeners.push_back({{"kind", "api"}, {"address", address_text(cfg.api_listen.host, relay.api_port)}});
  for (const RawIngestConfig& t : cfg.tcp_ingest) {
    listeners.push_back({{"kind", "tcp-ingest"}, {"address", address_text(t.listen.host, t.listen.port)}, {"stream", t.stream}});
  }
  for (const RawIngestConfig& u : cfg.udp_ingest) {
    listeners.push_back({{"kind", "udp-ingest"}, {"address", address_text(u.listen.host, u.listen.port)}, {"stream", u.stream}});
  }
  j["listeners"] = listeners;
  nlohmann::json push = nlohmann::json::array();
  for (const PushLinkStats& p : push_link_stats(relay.links)) {
    push.push_back({{"stream", p.stream}, {"url", p.url}, {"state", p.connected ? "connected" : "idle"},
                    {"connected", p.connected}, {"bytes_out", p.bytes_out},
                    {"connects", p.connects}, {"failures", p.failures}, {"dropped_gops", p.dropped_gops},
                    {"peer_node", nullptr}, {"api", or_null(push_api(relay.config, p))},
                    {"last_error", p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)}});
  }
  j["push"] = push;
  nlohmann::json pull = nlohmann::json::array();
  for (const PullLinkStats& p : pull_link_stats(relay.links)) {
    pull.push_back({{"stream", p.stream}, {"upstream", p.upstream}, {"state", p.state}, {"on_demand", p.on_demand},
                    {"since", p.since_s}, {"bytes_in", p.bytes_in}, {"connects", p.connects},
                    {"failures", p.failures}, {"failovers", p.failovers}, {"peer_node", or_null(p.peer_node)},
                    {"last_error", p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)}});
  }
  j["pull"] = pull;
  j["connections"] = relay.open_connections;
  j["max_connections"] = relay.max_connections;
  j["connections_refused"] = c.connections_refused;
  j["connections_refused_per_address"] = c.connections_refused_per_address;
  j["max_connections_per_address"] = relay.config.max_connections_per_address;
  j["log_lines_suppressed"] = relay.peer_log.suppressed_total();
  j["api_refused"] = c.api_refused;
  j["peers"] = peers_json(relay.config);
  const SnapshotStats sn = relay.snapshots ? relay.snapshots->stats() : SnapshotStats();
  j["snapshot_requests"] = sn.requests;
  j["snapshot_decodes"] = sn.decodes;
  j["snapshot_encodes"] = sn.encodes;
  j["snapshot_cache_hits"] = sn.cache_hits;
  j["snapshot_refused"] = sn.refused;
  j["snapshot_failures"] = sn.failures;
  return j.dump();
}

std::string metrics_text(const RelayState& relay) {
  std::ostringstream o;
  const RelayCounters& c = relay.counters;
  auto counter = [&o](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
  };
  auto gauge = [&o](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n" << name << ' ' << v << '\n';
  };
  double cpu_s = 0;
  uint64_t rss = 0;
  process_usage(cpu_s, rss);
  o << "# HELP process_cpu_seconds_total User and system CPU time of the relay, seconds.\n"
       "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "
    << cpu_s << '\n';
  gauge("process_resident_memory_bytes", "Resident memory of the relay, bytes.", rss);
  gauge("process_start_time_seconds", "When the relay started, seconds since the epoch.",
        static_cast<uint64_t>(relay.started_s));
  gauge("mpegcast_streams", "Streams known to the relay.", relay.hub.stream_count());
  gauge("mpegcast_viewers", "Connected viewers and downstream links.", relay.hub.subscriber_count());
  gauge("mpegcast_connections", "Open connections on all listeners.", static_cast<uint64_t>(relay.open_connections));
  counter("mpegcast_connections_refused_total", "Connections closed at accept: limits.max_connections reached.",
          c.connections_refused);
  counter("mpegcast_connections_refused_per_address_total",
          "Connections closed at accept: limits.max_connections_per_address reached for their address.",
          c.connections_refused_per_address);
  counter("mpegcast_log_lines_suppressed_total", "Log lines caused by peers and left out by the per-address limit.",
          relay.peer_log.suppressed_total());
  counter("mpegcast_ingest_connections_total", "Connections accepted on the ingest listener.", c.ingest_connections);
  counter("mpegcast_ingest_refused_total", "Ingest requests refused (bad request, auth, busy, limits).", c.ingest_refused);
  counter("mpegcast_ingest_timeouts_total", "Ingest connections closed for a slow request or a silent publisher.", c.ingest_timeouts);
  counter("mpegcast_viewer_connections_total", "Viewers accepted.", c.viewer_connections);
  counter("mpegcast_viewer_refused_total", "Viewers refused (limits, bad names).", c.viewer_refused);
  counter("mpegcast_egress_bytes_total", "Payload bytes written to viewers.", c.bytes_out);
  counter("mpegcast_api_refused_total", "API, metrics and dashboard requests refused by relay.conf api (401 / 403).",
          c.api_refused);
  const SnapshotStats sn = relay.snapshots ? relay.snapshots->stats() : SnapshotStats();
  counter("mpegcast_snapshot_requests_total", "Snapshot requests (GET /live/STREAM.jpg).", sn.requests);
  counter("mpegcast_snapshot_decodes_total", "Keyframes decoded for snapshots.", sn.decodes);
  counter("mpegcast_snapshot_encodes_total", "JPEGs encoded for snapshots.", sn.encodes);
  counter("mpegcast_snapshot_cache_hits_total", "Snapshot requests answered from the cache at once.", sn.cache_hits);
  counter("mpegcast_snapshot_refused_total", "Snapshot requests refused with 503 (queue full, keyframe too large).",
          sn.refused);
  counter("mpegcast_snapshot_failures_total", "Snapshot requests answered 500 (the keyframe did not decode).",
          sn.failures);
  counter("mpegcast_viewer_partial_writes_total",
          "Chunks a viewer's socket took only part of (the rest waits for the socket to drain).",
          c.viewer_partial_writes);

  const auto stats = relay.hub.stats();
  auto per_stream = [&](const char* name, const char* type, const char* help, auto field) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    for (const StreamStats& s : stats) o << name << "{stream=\"" << escape_label(s.name) << "\"} " << field(s) << '\n';
  };
  per_stream("mpegcast_stream_ingest_bytes_total", "counter", "Bytes received from publishers.",
             [](const StreamStats& s) { return s.bytes_in; });
  per_stream("mpegcast_stream_ingest_bitrate_bps", "gauge", "Ingest bitrate over the last 5 s, bit/s.",
             [](const StreamStats& s) { return s.bitrate_in_bps; });
  per_stream("mpegcast_stream_egress_bytes_total", "counter", "Bytes sent to the stream's viewers and links.",
             [](const StreamStats& s) { return s.bytes_out; });
  per_stream("mpegcast_stream_egress_bitrate_bps", "gauge", "Egress bitrate to all viewers and links over the last 5 s, bit/s.",
             [](const StreamStats& s) { return s.bitrate_out_bps; });
  o << "# HELP mpegcast_stream_gop_seconds Duration of the last complete GOP, seconds.\n"
       "# TYPE mpegcast_stream_gop_seconds gauge\n";
  for (const StreamStats& s : stats) {
    o << "mpegcast_stream_gop_seconds{stream=\"" << escape_label(s.name) << "\"} " << static_cast<double>(s.gop_ms) / 1000
      << '\n';
  }
  per_stream("mpegcast_stream_video_width_pixels", "gauge", "Video width from the newest keyframe's headers.",
             [](const StreamStats& s) { return static_cast<uint64_t>(s.video.width); });
  per_stream("mpegcast_stream_video_height_pixels", "gauge", "Video height from the newest keyframe's headers.",
             [](const StreamStats& s) { return static_cast<uint64_t>(s.video.height); });
  o << "# HELP mpegcast_stream_video_frames_per_second Frame rate from the newest keyframe's headers (0: unknown).\n"
       "# TYPE mpegcast_stream_video_frames_per_second gauge\n";
  for (const StreamStats& s : stats) {
    o << "mpegcast_stream_video_frames_per_second{stream=\"" << escape_label(s.name) << "\"} " << s.video.fps << '\n';
  }
  per_stream("mpegcast_stream_resyncs_total", "counter", "Times TS packet sync was lost and found again.",
             [](const StreamStats& s) { return s.resyncs; });
  o << "# HELP mpegcast_stream_subscribers Viewers and links of the stream by egress.\n"
       "# TYPE mpegcast_stream_subscribers gauge\n";
  for (const StreamStats& s : stats) {
    for (const char* egress : {"websocket", "http-ts", "push"}) {
      const auto it = s.subscribers_by_egress.find(egress);
      o << "mpegcast_stream_subscribers{stream=\"" << escape_label(s.name) << "\",egress=\"" << egress << "\"} "
        << (it == s.subscribers_by_egress.end() ? 0 : it->second) << '\n';
    }
  }
  per_stream("mpegcast_stream_viewers", "gauge", "Viewers of the stream.",
             [](const StreamStats& s) { return static_cast<uint64_t>(s.subscribers); });
  per_stream("mpegcast_stream_publisher_up", "gauge", "1 when the stream has a publisher.",
             [](const StreamStats& s) { return static_cast<uint64_t>(s.has_publisher); });
  per_stream("mpegcast_stream_keyframes_total", "counter", "Keyframes seen.",
             [](const StreamStats& s) { return s.keyframes; });
  per_stream("mpegcast_stream_discarded_bytes_total", "counter", "Bytes skipped to resync on TS packets.",
             [](const StreamStats& s) { return s.discarded_bytes; });
  per_stream("mpegcast_stream_cc_errors_total", "counter", "TS continuity counter errors.",
             [](const StreamStats& s) { return s.cc_errors; });
  per_stream("mpegcast_stream_lag_skips_total", "counter", "Viewers that skipped ahead to a keyframe for lag.",
             [](const StreamStats& s) { return s.lag_skips; });
  per_stream("mpegcast_stream_stalled_viewers_total", "counter", "Viewers closed for making no progress.",
             [](const StreamStats& s) { return s.stalls; });
  per_stream("mpegcast_stream_cache_bytes", "gauge", "Bytes held in the stream's GOP cache.",
             [](const StreamStats& s) { return static_cast<uint64_t>(s.cache_bytes); });

  // Links: one series per link, labelled by stream and peer URL (secrets masked); bounded by the config.
  const auto pushes = push_link_stats(relay.links);
  const auto pulls = pull_link_stats(relay.links);
  auto per_link = [&](const char* name, const char* type, const char* help, const auto& links, auto field) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    for (const auto& l : links) {
      o << name << "{stream=\"" << escape_label(l.stream) << "\",link=\"" << escape_label(link_label(l)) << "\"} "
        << field(l) << '\n';
    }
  };
  per_link("mpegcast_push_link_up", "gauge", "1 while the push link is connected.", pushes,
           [](const PushLinkStats& l) { return static_cast<uint64_t>(l.connected); });
  per_link("mpegcast_push_link_bytes_total", "counter", "TS bytes a push link wrote.", pushes,
           [](const PushLinkStats& l) { return l.bytes_out; });
  per_link("mpegcast_push_link_failures_total", "counter", "Connect errors, refusals and unplanned closes of a push link.",
           pushes, [](const PushLinkStats& l) { return l.failures; });
  per_link("mpegcast_push_link_dropped_gops_total", "counter",
           "GOPs a udp:// or srt:// push link's queue dropped because its peer did not keep up.", pushes,
           [](const PushLinkStats& l) { return l.dropped_gops; });
  per_link("mpegcast_pull_link_up", "gauge", "1 while the pull link receives the stream.", pulls,
           [](const PullLinkStats& l) { return static_cast<uint64_t>(l.state == "receiving"); });
  per_link("mpegcast_pull_link_bytes_total", "counter", "TS bytes a pull link received.", pulls,
           [](const PullLinkStats& l) { return l.bytes_in; });
  per_link("mpegcast_pull_link_failures_total", "counter", "Connect errors, refusals and unplanned closes of a pull link.",
           pulls, [](const PullLinkStats& l) { return l.failures; });
  per_link("mpegcast_pull_link_failovers_total", "counter", "Hand-overs of a pull link to its next upstream.", pulls,
           [](const PullLinkStats& l) { return l.failovers; });
  return o.str();
}

}  // namespace mpegcast::relay
