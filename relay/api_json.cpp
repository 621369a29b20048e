#include "api_json.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "clock.h"
#include "links.h"
#include "version.h"

namespace mpegcast::relay {
namespace {

nlohmann::json to_json(const StreamStats& s) {
  nlohmann::json j;
  j["name"] = s.name;
  j["publisher"] = s.has_publisher ? nlohmann::json(s.publisher) : nlohmann::json(nullptr);
  j["publisher_kind"] = s.has_publisher ? nlohmann::json(s.publisher_kind) : nlohmann::json(nullptr);
  j["via"] = s.via;
  j["connected_since"] = s.has_publisher ? nlohmann::json(s.publisher_since_s) : nlohmann::json(nullptr);
  j["bytes_in"] = s.bytes_in;
  j["bitrate_in_bps"] = s.bitrate_in_bps;
  j["viewers"] = s.subscribers;
  j["chunks"] = s.chunks;
  j["keyframes"] = s.keyframes;
  j["gop_ms"] = s.gop_ms;
  j["discarded_bytes"] = s.discarded_bytes;
  j["cc_errors"] = s.cc_errors;
  j["lag_skips"] = s.lag_skips;
  j["stalled_viewers_closed"] = s.stalls;
  j["publishers_total"] = s.publishers_total;
  j["cache_bytes"] = s.cache_bytes;
  j["video_stream_type"] = s.video_stream_type;
  return j;
}

std::string link_label(const PushLinkStats& l) { return l.url; }
std::string link_label(const PullLinkStats& l) { return l.upstream; }

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
  nlohmann::json push = nlohmann::json::array();
  for (const PushLinkStats& p : push_link_stats(relay.links)) {
    push.push_back({{"stream", p.stream}, {"url", p.url}, {"connected", p.connected}, {"bytes_out", p.bytes_out},
                    {"connects", p.connects}, {"failures", p.failures},
                    {"last_error", p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)}});
  }
  j["push"] = push;
  nlohmann::json pull = nlohmann::json::array();
  for (const PullLinkStats& p : pull_link_stats(relay.links)) {
    pull.push_back({{"stream", p.stream}, {"upstream", p.upstream}, {"state", p.state}, {"on_demand", p.on_demand},
                    {"since", p.since_s}, {"bytes_in", p.bytes_in}, {"connects", p.connects},
                    {"failures", p.failures}, {"failovers", p.failovers},
                    {"last_error", p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)}});
  }
  j["pull"] = pull;
  j["connections"] = relay.open_connections;
  j["max_connections"] = relay.max_connections;
  j["connections_refused"] = c.connections_refused;
  j["connections_refused_per_address"] = c.connections_refused_per_address;
  j["max_connections_per_address"] = relay.config.max_connections_per_address;
  j["log_lines_suppressed"] = relay.peer_log.suppressed_total();
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
  per_stream("mpegcast_stream_ingest_bitrate_bps", "gauge", "Ingest bitrate over the last seconds, bit/s.",
             [](const StreamStats& s) { return s.bitrate_in_bps; });
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
