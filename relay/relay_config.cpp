#include "relay_config.h"

#include <cctype>

#include "cascade_via.h"
#include "link_scheme.h"
#include "log.h"
#include "stream_name.h"

namespace mpegcast::relay {
namespace {

ListenAddress listen_key(ConfigSection& s, const char* key, const ListenAddress& def) {
  const std::string text = s.string(key, def.host + ":" + std::to_string(def.port), 300);
  auto a = parse_listen_address(text, def.host);
  if (!a) s.fail(key, "\"" + text + "\" is not [ADDR:]PORT with PORT in 0..65535");
  return *a;
}

std::vector<RawIngestConfig> raw_listeners(ConfigSection& ingest, const char* key, bool udp) {
  std::vector<RawIngestConfig> out;
  for (ConfigSection& s : ingest.groups(key)) {
    RawIngestConfig r;
    r.listen = listen_key(s, "listen", ListenAddress{"127.0.0.1", 0});
    if (r.listen.port == 0) s.fail("listen", "needs a port");
    r.stream = s.string("stream", "");
    if (!valid_stream_name(r.stream)) s.fail("stream", "missing or not [A-Za-z0-9_-]{1,64}");
    std::vector<Cidr> nets;
    for (const std::string& a : s.strings("allow")) {
      auto c = parse_cidr(a);
      if (!c) s.fail("allow", "\"" + a + "\" is not an address or CIDR network");
      nets.push_back(*c);
      r.allow_text += (r.allow_text.empty() ? "" : ",") + a;
    }
    r.allow = CidrList(std::move(nets));
    if (udp) {
      r.multicast_group = s.string("multicast_group", "");
      if (!r.multicast_group.empty()) {
        auto g = parse_cidr(r.multicast_group);
        if (!g || g->addr[10] != 0xFF || (g->addr[12] & 0xF0) != 0xE0) s.fail("multicast_group", "not an IPv4 multicast address (224.0.0.0/4)");
      }
    }
    s.check_unknown();
    out.push_back(std::move(r));
  }
  return out;
}

/// The `push` list: one downstream link per entry (stream + a URL of a push row of link_scheme.cpp).
std::vector<PushConfig> push_links(ConfigSection& root) {
  std::vector<PushConfig> out;
  for (ConfigSection& s : root.groups("push")) {
    PushConfig p;
    p.stream = s.string("stream", "");
    if (!valid_stream_name(p.stream)) s.fail("stream", "missing or not [A-Za-z0-9_-]{1,64}");
    p.url = s.string("url", "", 2048);
    auto u = parse_url(p.url);
    if (!u) s.fail("url", "missing or not scheme://HOST[:PORT][/PATH][?QUERY]");
    const LinkScheme* scheme = find_link_scheme(u->scheme);
    if (!scheme || !scheme->push) {
      s.fail("url", "scheme \"" + u->scheme + "\" is not " + link_schemes_text(false));
    }
    if (u->port == 0) {
      if (scheme->default_port == 0) s.fail("url", u->scheme + ":// needs a port");
      u->port = scheme->default_port;
    }
    if (!scheme->takes_path && u->path != "/") {
      s.fail("url", u->scheme + ":// takes no path" + (scheme->takes_query ? " (options go in the query: ?…)" : ""));
    }
    if (!scheme->takes_query && !u->query.empty()) s.fail("url", u->scheme + ":// takes no query");
    for (const PushConfig& q : out) {
      if (q.stream == p.stream && q.url == p.url) s.fail("url", "the same stream and url are listed twice");
    }
    p.target = *u;
    p.api = s.string("api", "", 2048);
    if (!p.api.empty()) {
      auto a = parse_url(p.api);
      if (!a || (a->scheme != "http" && a->scheme != "https") || a->path != "/" || !a->query.empty()) {
        s.fail("api", "\"" + redact_url(p.api) + "\" is not the downstream relay's API base URL http://HOST[:PORT]");
      }
    }
    s.check_unknown();
    out.push_back(std::move(p));
  }
  return out;
}

/// True when `glob` is a stream name or a glob over names ([A-Za-z0-9_-] plus * ? [ ] !).
bool valid_stream_glob(const std::string& glob) {
  if (glob.empty() || glob.size() > 64) return false;
  for (char ch : glob) {
    const bool name_char = std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
    if (!name_char && std::string("*?[]!").find(ch) == std::string::npos) return false;
  }
  return true;
}

/// The `pull` list: rules mapping stream names to upstream relays.
std::vector<PullConfig> pull_rules(ConfigSection& root) {
  std::vector<PullConfig> out;
  for (ConfigSection& s : root.groups("pull")) {
    PullConfig p;
    p.streams = s.string("streams", "", 64);
    if (!valid_stream_glob(p.streams)) s.fail("streams", "missing, or not a stream name or a glob of [A-Za-z0-9_-*?[]!]");
    p.on_demand = s.boolean("on_demand", p.on_demand);
    if (!p.on_demand && !valid_stream_name(p.streams)) {
      s.fail("streams", "a static pull (on_demand = false) needs one stream name, not a glob");
    }
    p.idle_timeout_s = s.integer("idle_timeout_s", p.idle_timeout_s, 0, 86400);
    p.start_timeout_s = s.integer("start_timeout_s", p.start_timeout_s, 1, 600);
    p.upstream_urls = s.strings("upstreams");
    if (p.upstream_urls.empty()) s.fail("upstreams", "needs at least one upstream URL, e.g. [ \"http://origin:8080\" ]");
    if (p.upstream_urls.size() > 16) s.fail("upstreams", "at most 16 upstreams");
    for (const std::string& text : p.upstream_urls) {
      auto u = parse_url(text);
      if (!u) s.fail("upstreams", "\"" + redact_url(text) + "\" is not scheme://HOST[:PORT]");
      const LinkScheme* scheme = find_link_scheme(u->scheme);
      if (!scheme || !scheme->pull) s.fail("upstreams", "scheme \"" + u->scheme + "\" is not " + link_schemes_text(true));
      if (u->path != "/") s.fail("upstreams", "\"" + redact_url(text) + "\": give the relay's base URL (the link adds /live/STREAM)");
      if (u->port == 0) u->port = scheme->default_port;
      p.upstreams.push_back(*u);
    }
    s.check_unknown();
    out.push_back(std::move(p));
  }
  return out;
}

/// The `api` group: who may read the API, the metrics and the dashboard page.
ApiAccessConfig api_access(ConfigSection& root) {
  ApiAccessConfig a;
  ConfigSection s = root.group("api");
  std::vector<Cidr> nets;
  for (const std::string& text : s.strings("allow")) {
    auto n = parse_cidr(text);
    if (!n) s.fail("allow", "\"" + text + "\" is not an address or CIDR network");
    nets.push_back(*n);
    a.allow_text += (a.allow_text.empty() ? "" : ",") + text;
  }
  a.allow = CidrList(std::move(nets));
  a.token = s.string("token", "", 256);
  for (char ch : a.token) {
    if (ch <= ' ' || ch >= 0x7f || ch == '&' || ch == '%' || ch == '+' || ch == '#') {
      s.fail("token", "use printable ASCII without spaces or & % + # (it may travel as ?token=)");
    }
  }
  s.check_unknown();
  return a;
}

}  // namespace

RelayConfig load_relay_config(ConfigFile& file) {
  RelayConfig c;
  ConfigSection root = file.root();
  c.node_id = root.string("node_id", c.node_id, 64);
  if (!c.node_id.empty() && !valid_node_id(c.node_id)) root.fail("node_id", "must be printable ASCII without ',' or spaces");
  c.cascade_max_hops = root.integer("cascade_max_hops", kDefaultCascadeMaxHops, 1, 64);
  c.log_level = root.choice("log_level", c.log_level, {"err", "warning", "notice", "info", "debug"});
  c.event_loop = root.choice("event_loop", c.event_loop, {"epoll", "poll"});
  c.listen = listen_key(root, "listen", c.listen);
  c.reuse_port = root.boolean("reuse_port", c.reuse_port);
  if (root.has("api_listen") && !root.string("api_listen", "", 300).empty()) {
    c.api_listen = listen_key(root, "api_listen", c.api_listen);
    if (c.api_listen.port == 0) root.fail("api_listen", "needs a port");
  }
  c.ingest_listen = listen_key(root, "ingest_listen", c.ingest_listen);
  c.web_root = root.string("web_root", c.web_root);
  c.default_stream = root.string("default_stream", c.default_stream);
  if (!valid_stream_name(c.default_stream)) root.fail("default_stream", "must match [A-Za-z0-9_-]{1,64}");

  ConfigSection limits = root.group("limits");
  c.hub.max_streams = static_cast<size_t>(limits.integer("max_streams", 64, 1, 100000));
  c.hub.max_subscribers = static_cast<size_t>(limits.integer("max_viewers", 5000, 1, 1000000));
  c.hub.max_subscribers_per_stream =
      static_cast<size_t>(limits.integer("max_viewers_per_stream", 5000, 1, 1000000));
  c.max_header_bytes = static_cast<size_t>(limits.integer("max_header_bytes", 8192, 1024, 65536));
  c.request_timeout_s = limits.integer("request_timeout_s", 10, 1, 3600);
  c.max_connections = limits.integer("max_connections", c.max_connections, 64, 1000000);
  c.max_connections_per_address =
      limits.integer("max_connections_per_address", c.max_connections_per_address, 0, 1000000);
  {
    std::vector<Cidr> nets;
    const std::vector<std::string> exempt = limits.has("exempt_networks")
                                                ? limits.strings("exempt_networks")
                                                : std::vector<std::string>{"127.0.0.0/8", "::1"};
    for (const std::string& a : exempt) {
      auto n = parse_cidr(a);
      if (!n) limits.fail("exempt_networks", "\"" + a + "\" is not an address or CIDR network");
      nets.push_back(*n);
    }
    c.exempt_networks = CidrList(std::move(nets));
  }
  c.hub.max_waiting_streams = static_cast<size_t>(limits.integer("max_waiting_streams", 64, 1, 100000));
  c.hub.publisher_wait_ms = limits.integer("publisher_wait_s", 30, 1, 86400) * 1000;
  if (static_cast<size_t>(c.max_connections) < c.hub.max_subscribers) {
    LOG_WARN("%s: limits.max_connections (%lld) is below limits.max_viewers (%zu): connections are the tighter limit",
             file.path().c_str(), static_cast<long long>(c.max_connections), c.hub.max_subscribers);
  }
  limits.check_unknown();

  ConfigSection hub = root.group("hub");
  c.hub.gop_cache_max_bytes = static_cast<size_t>(hub.integer("gop_cache_max_bytes", 8 << 20, 64 << 10, 1LL << 30));
  c.hub.max_lag_ms = hub.integer("max_lag_ms", 2000, 100, 600000);
  c.hub.stall_timeout_s = hub.integer("stall_timeout_s", 15, 1, 3600);
  c.hub.max_chunk_bytes = static_cast<size_t>(hub.integer("max_chunk_bytes", 348 * 188, 188, 1 << 20));
  c.hub.coalesce_ms = hub.integer("coalesce_ms", 0, 0, 200);
  c.viewer_sndbuf_bytes = hub.integer("viewer_sndbuf_bytes", 64 * 1024, 4096, 64 << 20);
  hub.check_unknown();

  ConfigSection ingest = root.group("ingest");
  c.publisher_timeout_s = ingest.integer("publisher_timeout_s", 10, 1, 3600);
  c.publisher_start_timeout_s = ingest.integer("start_timeout_s", c.publisher_start_timeout_s, 1, 3600);
  c.loopback_publish_without_secret = ingest.boolean("loopback_without_secret", true);
  c.dynamic_streams = ingest.boolean("dynamic_streams", true);
  c.hub.max_publish_bitrate_bps =
      static_cast<uint64_t>(ingest.integer("max_bitrate_bps", 20000000, 10000, 10000000000LL));
  c.tcp_ingest = raw_listeners(ingest, "tcp", false);
  c.udp_ingest = raw_listeners(ingest, "udp", true);
  ingest.check_unknown();

  for (ConfigSection& s : root.groups("streams")) {
    const std::string name = s.string("name", "");
    if (!valid_stream_name(name)) s.fail("name", "missing or not [A-Za-z0-9_-]{1,64}");
    if (c.streams.count(name)) s.fail("name", "stream \"" + name + "\" is listed twice");
    StreamPolicy p;
    p.secret = s.string("secret", "", 256);
    p.allow_takeover = s.boolean("allow_takeover", false);
    s.check_unknown();
    c.streams.emplace(name, p);
  }
  c.api_access = api_access(root);
  {
    ConfigSection snap = root.group("snapshot");
    c.snapshot.max_waiting = static_cast<size_t>(snap.integer("max_waiting", 256, 1, 100000));
    c.snapshot.max_input_bytes = static_cast<size_t>(snap.integer("max_input_bytes", 2 << 20, 64 << 10, 64 << 20));
    snap.check_unknown();
  }
  c.push = push_links(root);
  c.pull = pull_rules(root);
  root.check_unknown();
  return c;
}

}  // namespace mpegcast::relay
