#include "ws_ingest.h"

#include <fcntl.h>
#include <libwebsockets.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "cascade_via.h"
#include "clock.h"
#include "connection_limit.h"
#include "log.h"
#include "log_limiter.h"
#include "pss_slot.h"
#include "publish_auth.h"
#include "refusal.h"
#include "relay_state.h"
#include "stream_name.h"

namespace mpegcast::relay {
namespace {

/// The X-Mpegcast-Via list of a WebSocket handshake (empty when absent).
std::vector<std::string> ws_via(lws* wsi) {
  char buf[2048];
  const int n = lws_hdr_custom_copy(wsi, buf, sizeof buf, "x-mpegcast-via:", 15);
  return n > 0 ? parse_via(std::string_view(buf, static_cast<size_t>(n))) : std::vector<std::string>();
}

std::string header(lws* wsi, lws_token_indexes token) {
  const int n = lws_hdr_total_length(wsi, token);
  if (n <= 0 || n > 4096) return {};
  std::string s(static_cast<size_t>(n) + 1, '\0');
  const int got = lws_hdr_copy(wsi, &s[0], n + 1, token);
  s.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return s;
}

/// Stream name of "/publish/<name>[/]" ("" if the path is not that or the name is invalid).
std::string publish_stream_name(std::string path) {
  if (path.rfind("/publish/", 0) != 0) return {};
  path.erase(0, 9);
  if (!path.empty() && path.back() == '/') path.pop_back();
  return valid_stream_name(path) ? path : std::string();
}

void close_with(lws* wsi, lws_close_status status, const char* why) {
  lws_close_reason(wsi, status, reinterpret_cast<unsigned char*>(const_cast<char*>(why)), std::strlen(why));
}

/// One WebSocket publisher: attached to its stream once the handshake is done; every binary
/// message's bytes go to StreamHub::publish as they arrive (fragments included).
class WsPublisher final : public PublisherOwner {
 public:
  WsPublisher(lws* wsi, RelayState& relay) : wsi_(wsi), relay_(relay), peer_(peer_address(lws_get_socket_fd(wsi))) {}
  ~WsPublisher() override { detach(); }

  /// Handshake done: attaches to the stream of the request path. On refusal the close frame
  /// (1008 busy or refused, 1013 too many streams) goes out from the writable callback.
  void on_established() {
    name_ = publish_stream_name(header(wsi_, WSI_TOKEN_GET_URI));
    const StreamPolicy* policy = stream_policy(relay_.config, name_);
    HubError err = HubError::none;
    stream_ = relay_.hub.attach_publisher(name_, this, peer_, policy && policy->allow_takeover, now_ms(), err);
    if (!stream_) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "ingest %s: WebSocket publish to %s refused: %s",
                     peer_.c_str(), name_.c_str(), to_string(err));
      refusal_ = err;
      lws_callback_on_writable(wsi_);
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 2);  // the close frame goes out, or the peer is reset
      return;
    }
    stream_->via = ws_via(wsi_);
    stream_->publisher_kind = stream_->via.empty() ? "connection" : "push";
    stream_->publisher_protocol = "websocket";
    LOG_NOTICE("ingest %s: publishing stream %s (WebSocket)", peer_.c_str(), name_.c_str());
    deadline_.attached_ms = now_ms();
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, deadline_.timeout_s(relay_, stream_, deadline_.attached_ms));
  }

  /// Writable: only used to send a refusal's close frame. Returns -1 to close.
  int on_writable() {
    if (refusal_ == HubError::none) return 0;
    const RefusalAnswer& a = answer(refusal_of(refusal_));
    close_with(wsi_, static_cast<lws_close_status>(a.ws_close_code), to_string(refusal_));
    return -1;
  }

  /// A message fragment. Text messages are refused (1003); TS the hub refuses closes with 1008.
  int on_receive(const uint8_t* data, size_t len) {
    if (!stream_) return refusal_ == HubError::none ? -1 : 0;  // a refused publisher's bytes wait for the close
    last_rx_ms_ = now_ms();
    if (!lws_frame_is_binary(wsi_)) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN,
                     "ingest %s: stream %s: text message on a TS publish; closing", peer_.c_str(), name_.c_str());
      close_with(wsi_, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary messages of MPEG-TS only");
      return -1;
    }
    const PublishResult r = relay_.hub.publish(stream_, data, len, last_rx_ms_);
    if (r != PublishResult::ok) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "ingest %s: stream %s: %s; closing",
                     peer_.c_str(), name_.c_str(), to_string(r));
      detach();
      close_with(wsi_, LWS_CLOSE_STATUS_POLICY_VIOLATION, to_string(r));
      return -1;
    }
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, deadline_.timeout_s(relay_, stream_, last_rx_ms_));
    return 0;
  }

  /// The connection closed: one log line saying whether the publisher left or went silent.
  void on_close() {
    if (!stream_) return;
    log_publisher_end(relay_, "ingest", peer_, name_, stream_, deadline_, last_rx_ms_, now_ms());
    detach();
  }

  void taken_over() override {
    LOG_NOTICE("ingest %s: stream %s taken over by another publisher; closing", peer_.c_str(), name_.c_str());
    stream_ = nullptr;
    close_with(wsi_, LWS_CLOSE_STATUS_POLICY_VIOLATION, "taken over");
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }

 private:
  void detach() {
    if (stream_) relay_.hub.detach_publisher(stream_, this);
    stream_ = nullptr;
  }

  lws* wsi_;
  RelayState& relay_;
  std::string peer_;
  std::string name_;
  Stream* stream_ = nullptr;
  PublisherDeadline deadline_;
  HubError refusal_ = HubError::none;
  int64_t last_rx_ms_ = now_ms();
};

using WsPublisherPss = PssSlot<WsPublisher>;

/// Checks the handshake before lws answers it: path and secret. Returns non-zero (after an
/// HTTP status) to refuse.
int filter_handshake(lws* wsi) {
  RelayState& relay = relay_state(wsi);
  const int fd = lws_get_socket_fd(wsi);
  const std::string peer = peer_address(fd);
  const std::string path = header(wsi, WSI_TOKEN_GET_URI);
  auto refuse = [&](Refusal r, const std::string& detail) {
    ++relay.counters.ingest_refused;
    const RefusalAnswer& a = answer(r);
    const std::string why = detail.empty() ? a.phrase : detail;
    MC_LOG_LIMITED(relay.peer_log, address_of(peer), LOG_WARN, "ingest %s: WebSocket GET %s refused: %d %s: %s",
                   peer.c_str(), path.substr(0, 80).c_str(), a.http_status, a.http_reason, why.c_str());
    lws_return_http_status(wsi, static_cast<unsigned>(a.http_status), why.c_str());
    return 1;
  };
  const std::string name = publish_stream_name(path);
  if (name.empty()) return refuse(Refusal::bad_stream_name, "");
  char arg[512];
  const char* value = lws_get_urlarg_by_name(wsi, "secret=", arg, sizeof arg);  // url-decoded by lws
  std::string secret = value ? std::string(value) : std::string();
  const std::string auth = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (!auth.empty()) secret = publish_secret("", auth);
  if (!may_publish(relay.config, name, secret, peer_is_loopback(fd))) return refuse(Refusal::forbidden, "");
  const std::string via_problem = check_via(ws_via(wsi), relay.node_id, relay.config.cascade_max_hops);
  if (!via_problem.empty()) return refuse(Refusal::loop_detected, via_problem);
  return 0;
}

int ws_ingest_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<WsPublisherPss*>(user);
  if (pss && session_ends(wsi, reason, ws_ingest_callback)) {  // before lws frees the storage
    if (WsPublisher* p = pss->get()) p->on_close();
    pss->destroy();
  }
  if (int rc = 0; account_connection(wsi, reason, in, rc)) return rc;
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return filter_handshake(wsi);
    case LWS_CALLBACK_ESTABLISHED:
      pss->make(wsi, relay_state(wsi))->on_established();
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return pss->get() ? pss->get()->on_writable() : -1;
    case LWS_CALLBACK_RECEIVE:
      return pss->get() ? pss->get()->on_receive(static_cast<const uint8_t*>(in), len) : -1;
    case LWS_CALLBACK_HTTP:
      // Only handshakes are handed over; anything else that gets here is refused.
      lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "WebSocket handshake expected");
      return -1;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace

const lws_protocols& ws_ingest_protocol() {
  static const lws_protocols p = {"mpegcast-ws-ingest", ws_ingest_callback, sizeof(WsPublisherPss), 65536, 0, nullptr, 0};
  return p;
}

void hand_over_to_ws_ingest(lws* raw, RelayState& relay, const uint8_t* head, size_t len) {
  if (!relay.ws_ingest_vhost || len > kMaxHandOverBytes) return;
  const int fd = fcntl(lws_get_socket_fd(raw), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return;
  // lws parses `head` at once, before reading the socket. It returns nullptr both when adopting
  // failed (it has closed `fd` then) and when that first service already finished the
  // connection (e.g. a refused handshake): either way there is nothing left to undo here.
  lws_adopt_socket_vhost_readbuf(relay.ws_ingest_vhost, fd, reinterpret_cast<const char*>(head), len);
}

}  // namespace mpegcast::relay
