#include "links.h"

#include <libwebsockets.h>

#include <cstring>

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

/// All links of the relay.
class Links {
 public:
  std::vector<std::unique_ptr<PushLink>> push;
};

void LinksDeleter::operator()(Links* l) const { std::default_delete<Links>()(l); }

LinksPtr start_links(lws_context* context, RelayState& relay) {
  LinksPtr out(new Links);
  if (relay.config.push.empty()) return out;
  static lws_protocols protocols[3];
  // tx_packet_size: one send per chunk (lws caps a send at rx_buffer_size otherwise, see viewer_session.h).
  protocols[0] = {OutboundConnection::kRawProtocol, link_callback, 0, 0, 0, nullptr, (1 << 20) + kChunkHeadroom};
  protocols[1] = {OutboundConnection::kWsProtocol, link_callback, 0, 65536, 0, nullptr, (1 << 20) + kChunkHeadroom};
  protocols[2] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};
  lws_context_creation_info vi{};
  vi.vhost_name = "links";
  vi.port = CONTEXT_PORT_NO_LISTEN;
  vi.protocols = protocols;
  vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  lws_vhost* vhost = lws_create_vhost(context, &vi);
  if (!vhost) {
    LOG_ERR("links: cannot create the client vhost for %zu push links", relay.config.push.size());
    return nullptr;
  }
  for (const PushConfig& cfg : relay.config.push) {
    out->push.push_back(std::make_unique<PushLink>(context, vhost, relay, cfg));
    out->push.back()->start();
  }
  LOG_NOTICE("push: %zu downstream links (node %s, cascade_max_hops %lld)", out->push.size(), relay.node_id.c_str(),
             static_cast<long long>(relay.config.cascade_max_hops));
  return out;
}

std::vector<PushLinkStats> push_link_stats(const Links* links) {
  std::vector<PushLinkStats> out;
  if (!links) return out;
  for (const auto& l : links->push) out.push_back(l->stats());
  return out;
}

}  // namespace mpegcast::relay
