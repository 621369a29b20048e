#include "relay_server.h"

#include <ev.h>
#include <libwebsockets.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "clock.h"
#include "connection_limit.h"
#include "http_ingest.h"
#include "raw_ingest.h"
#include "log.h"
#include "links.h"
#include "log_limiter.h"
#include "relay_state.h"
#include "shared_listener.h"
#include "version.h"
#include "viewer_egress.h"
#include "ws_ingest.h"

namespace mpegcast::relay {

RelayState& relay_state(lws* wsi) { return *static_cast<RelayState*>(lws_context_user(lws_get_context(wsi))); }

namespace {

std::atomic<bool> g_stop{false};
lws_context* g_context = nullptr;

void on_signal(int) {
  g_stop.store(true);
  if (g_context) lws_cancel_service(g_context);
}

struct ContextDeleter {
  void operator()(lws_context* c) const { lws_context_destroy(c); }
};

struct EvLoopDeleter {
  void operator()(struct ev_loop* l) const { ev_loop_destroy(l); }
};

/// SIGINT/SIGTERM on the libev loop: stop serving (run_relay then shuts down in order).
void on_stop_signal(struct ev_loop* loop, ev_signal* /*w*/, int /*revents*/) {
  g_stop.store(true);
  ev_break(loop, EVBREAK_ALL);
}

const char* ev_backend_name(unsigned backend) {
  switch (backend) {
    case EVBACKEND_EPOLL: return "epoll";
    case EVBACKEND_POLL: return "poll";
    case EVBACKEND_SELECT: return "select";
    default: return "other";
  }
}

/// The service loop: libev's epoll backend, handed to lws as a foreign loop. lws 4.1's own loop
/// poll()s every descriptor on each pass, which at 1000 viewers cost 14 % of the relay's CPU
/// (bench/README.md); with epoll the cost follows the active descriptors only.
/// Returns nullptr when libev cannot make a loop (the relay then runs lws's poll loop).
std::unique_ptr<struct ev_loop, EvLoopDeleter> make_ev_loop() {
  return std::unique_ptr<struct ev_loop, EvLoopDeleter>(ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV));
}

/// node_id when relay.conf leaves it empty: the host name, plus "-<instance>" when the relay runs
/// as a systemd template instance other than "relay" (the unit sets MPEGCAST_INSTANCE=%i), so the
/// instances of one node (topology 2: mpegcast-relay@edge1, @edge2) have ids of their own.
std::string default_node_id() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  std::string id = host;
  const char* instance = std::getenv("MPEGCAST_INSTANCE");
  if (instance && *instance && std::strcmp(instance, "relay") != 0) id += std::string("-") + instance;
  std::string clean;  // a node id is printable ASCII without ',' or spaces (cascade_via.h)
  for (char c : id) clean += (c > ' ' && c < 0x7f && c != ',') ? c : '_';
  return clean.substr(0, 64);
}

/// The vhost option for a listener on `host`: IPv6 only for an IPv6 address ("::" is every
/// address of both families). lws 4.1 mis-parses an IPv4 address as a listen address while IPv6
/// is on (it writes it into a sockaddr_in6 at the IPv4 offsets), so IPv4 listeners keep IPv6 off.
uint64_t ip_family_option(const std::string& host) {
  return host.find(':') == std::string::npos ? LWS_SERVER_OPTION_DISABLE_IPV6 : 0;
}

/// Coalescing (hub.coalesce_ms > 0): one timer, armed for the earliest held chunk's due time
/// (by the hub when it starts holding one, and again after each flush while any is held).
struct CoalesceTimer {
  lws_sorted_usec_list_t sul{};  // must stay first: the callback casts back from it
  lws_context* context = nullptr;
  RelayState* relay = nullptr;
  int64_t armed_due_ms = -1;     // when the timer fires (-1: not armed)

  void arm(int64_t due_ms) {
    if (armed_due_ms >= 0 && armed_due_ms <= due_ms) return;
    armed_due_ms = due_ms;
    const int64_t delay_ms = std::max<int64_t>(0, due_ms - now_ms());
    lws_sul_schedule(context, 0, &sul, run, static_cast<lws_usec_t>(delay_ms) * LWS_US_PER_MS);
  }
  static void run(lws_sorted_usec_list_t* sul) {
    auto* t = reinterpret_cast<CoalesceTimer*>(sul);
    t->armed_due_ms = -1;
    t->relay->hub.flush_due(now_ms());
    const int64_t next = t->relay->hub.next_flush_due_ms();
    if (next >= 0) t->arm(next);
  }
};

/// Housekeeping once a second: stalled viewers, bitrates, empty streams, watchdog.
struct Housekeeping {
  lws_sorted_usec_list_t sul{};  // must stay first: the callback casts back from it
  lws_context* context = nullptr;
  RelayState* relay = nullptr;
  bool watchdog = false;

  static void run(lws_sorted_usec_list_t* sul) {
    auto* h = reinterpret_cast<Housekeeping*>(sul);
    const int64_t now = now_ms();
    h->relay->hub.tick(now);
    for (PeriodicTask* t : h->relay->periodic) t->every_second(now);
    h->relay->peer_log.flush(now);
    if (h->watchdog) sd_notify(0, "WATCHDOG=1");
    lws_sul_schedule(h->context, 0, &h->sul, run, LWS_US_PER_SEC);
  }
};

/// lws's messages that any peer can cause with one bad request or frame (lws logs them at error
/// or warning level): demoted to info, so a stranger cannot fill the journal with errors.
bool per_request_noise(const std::string& s) {
  static const char* const kNoise[] = {
      "Ran out of header data space", "lws_pos_in_bounds", "More hdr frags", "exceeds limit", "Duplicated method",
      "Missing URI", "multiple methods", "malformed or absent conn hdr", "protocol list too long",
      "pcol name too long", "malformatted protocol list", "Client key too long", "Base64 encoded hash too long",
      "unknown spec version", "b63 of length must be zero", "Attempted overflow", "Control frame with xtended",
      "User code denied connection", "basic auth", "adopt_socket_readbuf",
      // A refused WebSocket push handshake: the push link logs it once per change, lws per attempt.
      "lws_client_handshake: got bad HTTP response"};
  for (const char* n : kNoise) {
    if (s.find(n) != std::string::npos) return true;
  }
  return false;
}

void lws_log_to_ours(int level, const char* line) {
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (per_request_noise(s)) level = LLL_INFO;
  // Whatever else lws says is bounded too (service thread only: lws logs from it).
  static LogLimiter limiter(10, 20, 10000, 64, "libwebsockets");
  if ((level & (LLL_ERR | LLL_WARN)) && !limiter.allow("messages", now_ms())) return;
  if (level & LLL_ERR) {
    LOG_ERR("lws: %s", s.c_str());
  } else if (level & LLL_WARN) {
    LOG_WARN("lws: %s", s.c_str());
  } else {
    LOG_DEBUG("lws: %s", s.c_str());
  }
}

}  // namespace

int run_relay(RelayConfig config) {
  auto relay = std::make_unique<RelayState>(std::move(config));
  const RelayConfig& cfg = relay->config;
  relay->started_s = wall_time_s();
  relay->node_id = cfg.node_id.empty() ? default_node_id() : cfg.node_id;

  lws_set_log_level(LLL_ERR | LLL_WARN | (log_enabled(LogLevel::debug) ? LLL_NOTICE : 0), lws_log_to_ours);

  relay->max_connections = fit_open_file_limit(cfg.max_connections);
  std::vector<UdpIngestPtr> udp_ingest;  // declared before the context: destroyed after it
  // Likewise: lws must be gone before its loop.
  auto loop = cfg.event_loop == "epoll" ? make_ev_loop() : std::unique_ptr<struct ev_loop, EvLoopDeleter>();
  if (cfg.event_loop == "epoll" && !loop) {
    LOG_WARN("libev cannot create an event loop: falling back to libwebsockets' poll() loop, which costs more CPU per viewer");
  }
  void* foreign_loops[1] = {loop.get()};
  lws_context_creation_info ci{};
  ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (loop) {
    ci.options |= LWS_SERVER_OPTION_LIBEV;
    ci.foreign_loops = foreign_loops;
  }
  ci.user = relay.get();
  ci.max_http_header_data = static_cast<unsigned short>(cfg.max_header_bytes);
  ci.timeout_secs = static_cast<unsigned int>(cfg.request_timeout_s);
  // One read of a publisher socket takes up to 64 KiB (lws's default is 4 KiB): a video frame
  // arrives in one read, so it becomes one chunk and one write per viewer instead of several.
  ci.pt_serv_buf_size = 64 * 1024;
  std::unique_ptr<lws_context, ContextDeleter> context(lws_create_context(&ci));
  if (!context && loop) {
    LOG_WARN("libwebsockets cannot use the libev event loop (is libwebsockets-evlib-ev installed?): "
             "falling back to its poll() loop, which costs more CPU per viewer");
    loop.reset();
    ci.options &= ~static_cast<uint64_t>(LWS_SERVER_OPTION_LIBEV);
    ci.foreign_loops = nullptr;
    context.reset(lws_create_context(&ci));
  }
  if (!context) {
    LOG_ERR("cannot create the libwebsockets context");
    return 1;
  }

  // Viewer vhost: static web root, API, WebSocket and HTTP-TS egress.
  // protocols[0] serves HTTP and WebSocket upgrades without a subprotocol. (Marking a later
  // protocol "default" with a pvo instead makes lws 4.1 answer the 2nd request on a kept-alive
  // connection with the 1st one's headers.)
  static lws_protocols viewer_protocols[4];
  viewer_protocols[0] = viewer_protocol("mpegcast-live");
  viewer_protocols[1] = viewer_protocol("null");  // JSMpeg 2017–2022 sends "Sec-WebSocket-Protocol: null"
  viewer_protocols[2] = shared_listener_protocol();  // reuse_port: the listening socket of our own
  viewer_protocols[3] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};

  static lws_http_mount mounts[5];
  std::memset(mounts, 0, sizeof mounts);
  const char* callback_paths[] = {"/api", "/live", "/metrics", "/healthz"};
  for (int i = 0; i < 4; ++i) {
    lws_http_mount& m = mounts[i];
    m.mount_next = &mounts[i + 1];
    m.mountpoint = callback_paths[i];
    m.mountpoint_len = static_cast<unsigned char>(std::strlen(callback_paths[i]));
    m.origin = "mpegcast-live";
    m.origin_protocol = LWSMPRO_CALLBACK;
  }
  static std::string web_root;
  web_root = cfg.web_root;
  lws_http_mount& files = mounts[4];
  files.mount_next = nullptr;
  files.mountpoint = "/";
  files.mountpoint_len = 1;
  files.origin = web_root.c_str();
  files.def = "index.html";
  files.origin_protocol = LWSMPRO_FILE;
  files.cache_max_age = 60;
  files.cache_reusable = 1;
  files.cache_revalidate = 1;
  files.cache_intermediaries = 0;

  // Security headers on every response; CSP allows our own scripts and JSMpeg's WASM decoder.
  // connect-src allows http(s): the dashboard's tree view reads other relays' /api/v1/node.
  static const lws_protocol_vhost_options hdr_ctype = {nullptr, nullptr, "X-Content-Type-Options:", "nosniff"};
  static const lws_protocol_vhost_options hdr_frame = {&hdr_ctype, nullptr, "X-Frame-Options:", "DENY"};
  static const lws_protocol_vhost_options hdr_referrer = {&hdr_frame, nullptr, "Referrer-Policy:", "no-referrer"};
  static const lws_protocol_vhost_options hdr_csp = {
      &hdr_referrer, nullptr, "Content-Security-Policy:",
      "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self' ws: wss: http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"};

  static std::string viewer_iface, ingest_iface;
  viewer_iface = cfg.listen.host;
  ingest_iface = cfg.ingest_listen.host;

  lws_context_creation_info vi{};
  vi.vhost_name = "viewers";
  vi.port = cfg.reuse_port ? CONTEXT_PORT_NO_LISTEN_SERVER : cfg.listen.port;
  vi.iface = viewer_iface == "0.0.0.0" ? nullptr : viewer_iface.c_str();
  vi.protocols = viewer_protocols;
  vi.mounts = mounts;
  vi.headers = &hdr_csp;
  // What lws cannot parse as HTTP (junk, an unknown method) and CONNECT become raw connections
  // of protocols[0], which answers 400 / 405 and closes (http_admission.h); without this lws
  // answers junk with 403 and keeps a CONNECT open as a tunnel with no timeout.
  vi.options = ip_family_option(cfg.listen.host) | LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
  vi.listen_accept_role = "raw-skt";
  vi.listen_accept_protocol = "mpegcast-live";
  vi.max_http_header_data = ci.max_http_header_data;
  vi.timeout_secs = ci.timeout_secs;
  // lws holds a connection's header table (from accept until its head is parsed, and between
  // kept-alive requests) for timeout_secs_ah_idle, 10 s unless set: the head deadline.
  vi.timeout_secs_ah_idle = ci.timeout_secs;
  lws_vhost* viewers = lws_create_vhost(context.get(), &vi);
  // reuse_port: several relay instances share the viewer port; the kernel spreads the accepted
  // connections over them (SO_REUSEPORT; topology 2). See shared_listener.h for why it is ours.
  SharedListenerPtr shared_viewers;
  if (viewers && cfg.reuse_port) {
    shared_viewers = open_shared_listener(*relay, cfg.listen, viewers, viewers);
    if (!shared_viewers) return 1;
  }
  if (!viewers) {
    LOG_ERR("cannot listen for viewers on %s:%d (in use, or not an address of this host?)", cfg.listen.host.c_str(),
            cfg.listen.port);
    return 1;
  }

  // api_listen: this instance's own listener for /api, /metrics and /healthz (the viewer port may
  // be shared with other instances: reuse_port), same protocol, nothing else served there.
  static std::string api_iface;
  if (cfg.api_listen.port > 0) {
    api_iface = cfg.api_listen.host;
    static lws_http_mount api_mounts[4];  // the callback mounts only: no pages here
    for (int i = 0; i < 4; ++i) {
      api_mounts[i] = mounts[i];
      api_mounts[i].mount_next = i < 3 ? &api_mounts[i + 1] : nullptr;
    }
    lws_context_creation_info ai = vi;
    ai.vhost_name = "api";
    ai.mounts = api_mounts;
    ai.port = cfg.api_listen.port;
    ai.iface = api_iface == "0.0.0.0" ? nullptr : api_iface.c_str();
    ai.options = ip_family_option(cfg.api_listen.host) | LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
    relay->api_vhost = lws_create_vhost(context.get(), &ai);
    if (!relay->api_vhost) {
      LOG_ERR("cannot listen for the API on %s:%d (in use, or not an address of this host?)",
              cfg.api_listen.host.c_str(), cfg.api_listen.port);
      return 1;
    }
    relay->api_port = lws_get_vhost_listen_port(relay->api_vhost);
    LOG_NOTICE("api: http://%s:%d/api/v1/node, /metrics", cfg.api_listen.host.c_str(), relay->api_port);
  }

  // Ingest vhost: raw sockets, HTTP parsed by http-parser (lws 4.1 cannot de-chunk request bodies).
  static lws_protocols ingest_protocols[3];
  ingest_protocols[0] = http_ingest_protocol();
  ingest_protocols[1] = udp_ingest_protocol();  // UDP ingest sockets are adopted on this vhost
  ingest_protocols[2] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};
  lws_context_creation_info ii{};
  ii.vhost_name = "ingest";
  ii.port = cfg.ingest_listen.port;
  ii.iface = ingest_iface == "0.0.0.0" ? nullptr : ingest_iface.c_str();
  ii.protocols = ingest_protocols;
  ii.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG | ip_family_option(cfg.ingest_listen.host);
  ii.listen_accept_role = "raw-skt";
  ii.listen_accept_protocol = "mpegcast-ingest";
  lws_vhost* ingest = lws_create_vhost(context.get(), &ii);
  if (!ingest) {
    LOG_ERR("cannot listen for publishers on %s:%d (in use, or not an address of this host?)",
            cfg.ingest_listen.host.c_str(), cfg.ingest_listen.port);
    return 1;
  }
  // WebSocket publishers: the ingest listener's HTTP parser hands their sockets to this vhost,
  // which has no listener of its own (lws does the handshake, framing, ping/pong and close).
  static lws_protocols ws_ingest_protocols[2];
  ws_ingest_protocols[0] = ws_ingest_protocol();
  ws_ingest_protocols[1] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};
  lws_context_creation_info wi{};
  wi.vhost_name = "ws-ingest";
  wi.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  wi.protocols = ws_ingest_protocols;
  wi.options = 0;
  wi.max_http_header_data = ci.max_http_header_data;
  wi.timeout_secs = ci.timeout_secs;
  wi.timeout_secs_ah_idle = ci.timeout_secs;
  relay->ws_ingest_vhost = lws_create_vhost(context.get(), &wi);
  if (!relay->ws_ingest_vhost) {
    LOG_ERR("cannot create the WebSocket ingest vhost");
    return 1;
  }

  // Raw TCP ingest: one raw vhost per listener, its RawIngestConfig as the vhost's user pointer.
  static lws_protocols tcp_protocols[2];
  tcp_protocols[0] = tcp_ingest_protocol();
  tcp_protocols[1] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};
  std::vector<std::string> tcp_names, tcp_ifaces;
  tcp_names.reserve(cfg.tcp_ingest.size());
  tcp_ifaces.reserve(cfg.tcp_ingest.size());
  for (const RawIngestConfig& t : cfg.tcp_ingest) {
    tcp_names.push_back("tcp-ingest-" + t.stream);
    tcp_ifaces.push_back(t.listen.host);
    lws_context_creation_info ti{};
    ti.vhost_name = tcp_names.back().c_str();
    ti.port = t.listen.port;
    ti.iface = tcp_ifaces.back() == "0.0.0.0" ? nullptr : tcp_ifaces.back().c_str();
    ti.protocols = tcp_protocols;
    ti.user = const_cast<RawIngestConfig*>(&t);
    ti.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG | ip_family_option(t.listen.host);
    ti.listen_accept_role = "raw-skt";
    ti.listen_accept_protocol = "mpegcast-tcp-ingest";
    if (!lws_create_vhost(context.get(), &ti)) {
      LOG_ERR("cannot listen for TCP publishers of stream %s on %s:%d", t.stream.c_str(), t.listen.host.c_str(),
              t.listen.port);
      return 1;
    }
    LOG_NOTICE("tcp ingest: stream %s on tcp://%s:%d%s%s", t.stream.c_str(), t.listen.host.c_str(), t.listen.port,
               t.allow.empty() ? "" : ", allow ", t.allow_text.c_str());
  }
  for (const RawIngestConfig& u : cfg.udp_ingest) {
    UdpIngestPtr p = start_udp_ingest(ingest, *relay, u);
    if (!p) return 1;
    udp_ingest.push_back(std::move(p));
  }

  // Links to other relays: a client vhost of their own; destroyed (below) before the context.
  relay->context = context.get();
  relay->resolver = std::make_unique<Resolver>(context.get());
  // Snapshots: JPEGs decoded and encoded on a worker thread that wakes this loop with its results.
  relay->snapshots = std::make_unique<SnapshotService>(cfg.snapshot, [ctx = context.get()] { lws_cancel_service(ctx); });
  if (cfg.api_access.restricted()) {
    LOG_NOTICE("api: /api, /metrics and the dashboard page only for %s%s",
               cfg.api_access.allow.empty() ? "any address" : cfg.api_access.allow_text.c_str(),
               cfg.api_access.token.empty() ? "" : ", with the token");
  }
  LinksPtr links = start_links(context.get(), *relay);
  if (!links) {
    relay->resolver.reset();
    return 1;
  }
  relay->links = links.get();

  relay->viewer_port = shared_viewers ? shared_listener_port(*shared_viewers) : lws_get_vhost_listen_port(viewers);
  relay->ingest_port = lws_get_vhost_listen_port(ingest);

  g_context = context.get();
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Housekeeping housekeeping;
  housekeeping.context = context.get();
  housekeeping.relay = relay.get();
  uint64_t watchdog_us = 0;
  housekeeping.watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;
  lws_sul_schedule(context.get(), 0, &housekeeping.sul, Housekeeping::run, LWS_US_PER_SEC);
  CoalesceTimer coalesce;
  if (cfg.hub.coalesce_ms > 0) {
    coalesce.context = context.get();
    coalesce.relay = relay.get();
    relay->hub.set_flush_scheduler([&coalesce](int64_t due_ms) { coalesce.arm(due_ms); });
    LOG_NOTICE("coalescing: viewers get chunks of up to %lld ms of stream (hub.coalesce_ms)",
               static_cast<long long>(cfg.hub.coalesce_ms));
  }

  LOG_NOTICE("mpegcast-relay %s ready: node %s, viewers on http://%s:%d/ (web root %s), ingest on http://%s:%d/publish/<stream> (POST or WebSocket)",
             kVersion, relay->node_id.c_str(), cfg.listen.host.c_str(), relay->viewer_port, cfg.web_root.c_str(),
             cfg.ingest_listen.host.c_str(), relay->ingest_port);
  LOG_INFO("limits: %lld connections, %zu viewers, %zu streams", static_cast<long long>(relay->max_connections),
           cfg.hub.max_subscribers, cfg.hub.max_streams);
  sd_notify(0, "READY=1");

  if (loop) {
    LOG_INFO("event loop: libev (%s)", ev_backend_name(ev_backend(loop.get())));
    ev_signal sigint_watcher, sigterm_watcher;
    ev_signal_init(&sigint_watcher, on_stop_signal, SIGINT);
    ev_signal_init(&sigterm_watcher, on_stop_signal, SIGTERM);
    ev_signal_start(loop.get(), &sigint_watcher);
    ev_signal_start(loop.get(), &sigterm_watcher);
    if (!g_stop.load()) ev_run(loop.get(), 0);
    ev_signal_stop(loop.get(), &sigint_watcher);
    ev_signal_stop(loop.get(), &sigterm_watcher);
  } else {
    LOG_INFO("event loop: libwebsockets poll()");
    while (!g_stop.load()) {
      if (lws_service(context.get(), 0) < 0) break;
    }
  }
  sd_notify(0, "STOPPING=1");
  LOG_NOTICE("mpegcast-relay stopping: %zu streams, %zu viewers", relay->hub.stream_count(),
             relay->hub.subscriber_count());
  lws_sul_cancel(&housekeeping.sul);
  relay->links = nullptr;
  links.reset();  // unsubscribes the links and detaches them from their connections
  relay->resolver.reset();
  relay->snapshots->stop();  // no wake-ups into a destroyed context; the object goes with `relay`, after its waiters
  if (cfg.hub.coalesce_ms > 0) {
    lws_sul_cancel(&coalesce.sul);
    relay->hub.set_flush_scheduler(nullptr);
  }
  shared_viewers.reset();  // its listening socket is a wsi of the context
  g_context = nullptr;
  context.reset();
  return 0;
}

}  // namespace mpegcast::relay
