#include "links.h"

#include <fnmatch.h>
#include <libwebsockets.h>

#include <algorithm>
#include <cstring>

#include "av_push_link.h"
#include "clock.h"
#include "link_scheme.h"
#include "log.h"
#include "outbound_connection.h"
#include "relay_state.h"

namespace mpegcast::relay {
namespace {

/// One callback for both client protocols; the connection is the wsi's opaque user data.
int link_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* c = static_cast<OutboundConnection*>(lws_get_opaque_user_data(wsi));
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
      // Broadcast to every protocol of every vhost: deliver once, from the raw protocol.
      const lws_protocols* p = lws_get_protocol(wsi);
      if (p && p->name && std::strcmp(p->name, OutboundConnection::kRawProtocol) == 0) {
        RelayState& relay = relay_state(wsi);
        if (relay.resolver) relay.resolver->deliver();
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (c) c->lws_connection_error(wsi, static_cast<const char*>(in));
      return 0;
    case LWS_CALLBACK_RAW_CONNECTED:
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      return c ? c->lws_up(wsi) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return c ? c->lws_writable() : -1;
    case LWS_CALLBACK_RAW_RX:
    case LWS_CALLBACK_CLIENT_RECEIVE:
      return c ? c->lws_rx(static_cast<const uint8_t*>(in), len) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (c) c->lws_peer_close(static_cast<const uint8_t*>(in), len);
      return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
      return c ? c->lws_append_handshake_header(static_cast<char**>(in), len) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (c) c->lws_closed(wsi);
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace

/// All links of the relay: push links, pull links and the pull rules' demand handling.
class Links {
 public:
  Links(lws_context* context, RelayState& relay) : context_(context), relay_(relay) { timer_.self = this; }
  ~Links() {
    lws_sul_cancel(&timer_.sul);
    pull.clear();
    push.clear();
  }

  void start(lws_vhost* vhost) {
    vhost_ = vhost;
    for (const PushConfig& cfg : relay_.config.push) {
      if (find_link_scheme(cfg.target.scheme)->transport == Transport::libavformat) {
        push.push_back(std::make_unique<AvPushLink>(context_, relay_, cfg));
      } else {
        push.push_back(std::make_unique<PushLink>(context_, vhost, relay_, cfg));
      }
      push.back()->start();
    }
    const int64_t now = now_ms();
    for (const PullConfig& rule : relay_.config.pull) {
      if (rule.on_demand) continue;
      pull.push_back(std::make_unique<PullLink>(relay_, vhost, rule, rule.streams, std::vector<std::string>()));
      pull.back()->start(now);
    }
    if (!relay_.config.pull.empty()) {
      relay_.hub.add_demand_handler([this](const std::string& stream, bool wanted) { on_demand(stream, wanted); });
      lws_sul_schedule(context_, 0, &timer_.sul, &Links::on_timer, kTimerMs * LWS_US_PER_MS);
    }
  }

  std::vector<std::unique_ptr<DownstreamLink>> push;
  std::vector<std::unique_ptr<PullLink>> pull;

 private:
  static constexpr int64_t kTimerMs = 200;
  struct Timer {  // standard layout, so lws_container_of() can find it from its sul
    lws_sorted_usec_list_t sul{};
    Links* self = nullptr;
  };

  static void on_timer(lws_sorted_usec_list_t* sul) {
    Links* self = lws_container_of(sul, Timer, sul)->self;
    const int64_t now = now_ms();
    for (auto& p : self->pull) p->tick(now);
    self->pull.erase(std::remove_if(self->pull.begin(), self->pull.end(), [](const auto& p) { return p->finished(); }),
                     self->pull.end());
    lws_sul_schedule(self->context_, 0, &self->timer_.sul, &Links::on_timer, kTimerMs * LWS_US_PER_MS);
  }

  /// The hub's demand event: start an on-demand pull for a stream nobody publishes here, or tell
  /// a running pull that its demand came or went.
  void on_demand(const std::string& stream, bool wanted) {
    const int64_t now = now_ms();
    for (auto& p : pull) {
      if (p->stream() == stream && !p->finished()) return p->demand(wanted, now);
    }
    if (!wanted) return;
    Stream* st = relay_.hub.find(stream);
    if (!st || st->has_publisher()) return;
    for (const PullConfig& rule : relay_.config.pull) {
      if (!rule.on_demand || fnmatch(rule.streams.c_str(), stream.c_str(), 0) != 0) continue;
      pull.push_back(std::make_unique<PullLink>(relay_, vhost_, rule, stream, st->demand_via));
      pull.back()->start(now);
      return;
    }
  }

  lws_context* context_;
  RelayState& relay_;
  lws_vhost* vhost_ = nullptr;
  Timer timer_;
};

void LinksDeleter::operator()(Links* l) const { std::default_delete<Links>()(l); }

LinksPtr start_links(lws_context* context, RelayState& relay) {
  LinksPtr out(new Links(context, relay));
  if (relay.config.push.empty() && relay.config.pull.empty()) return out;
  static lws_protocols protocols[3];
  // tx_packet_size: one send per chunk (lws caps a send at rx_buffer_size otherwise, see viewer_session.h).
  protocols[0] = {OutboundConnection::kRawProtocol, link_callback, 0, 0, 0, nullptr, (1 << 20) + kChunkHeadroom};
  protocols[1] = {OutboundConnection::kWsProtocol, link_callback, 0, 65536, 0, nullptr, (1 << 20) + kChunkHeadroom};
  protocols[2] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};
  lws_context_creation_info vi{};
  vi.vhost_name = "links";
  vi.port = CONTEXT_PORT_NO_LISTEN;
  vi.protocols = protocols;
  vi.options = 0;  // links may connect to IPv6 addresses
  lws_vhost* vhost = lws_create_vhost(context, &vi);
  if (!vhost) {
    LOG_ERR("links: cannot create the client vhost for %zu push links and %zu pull rules", relay.config.push.size(),
            relay.config.pull.size());
    return nullptr;
  }
  out->start(vhost);
  if (!out->push.empty()) {
    LOG_NOTICE("push: %zu downstream links (node %s, cascade_max_hops %lld)", out->push.size(), relay.node_id.c_str(),
               static_cast<long long>(relay.config.cascade_max_hops));
  }
  if (!relay.config.pull.empty()) {
    LOG_NOTICE("pull: %zu rules, %zu static links (node %s)", relay.config.pull.size(), out->pull.size(),
               relay.node_id.c_str());
  }
  return out;
}

std::vector<PullLinkStats> pull_link_stats(const Links* links) {
  std::vector<PullLinkStats> out;
  if (!links) return out;
  for (const auto& l : links->pull) out.push_back(l->stats());
  return out;
}

std::vector<PushLinkStats> push_link_stats(const Links* links) {
  std::vector<PushLinkStats> out;
  if (!links) return out;
  for (const auto& l : links->push) out.push_back(l->stats());
  return out;
}

}  // namespace mpegcast::relay
