#include "http_ingest.h"

#include <libwebsockets.h>
#include <strings.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "cascade_via.h"
#include "clock.h"
#include "http_request_parser.h"
#include "connection_limit.h"
#include "log.h"
#include "log_limiter.h"
#include "pss_slot.h"
#include "relay_state.h"
#include "publish_auth.h"
#include "refusal.h"
#include "ws_ingest.h"
#include "stream_name.h"
#include "url.h"

namespace mpegcast::relay {
namespace {

/// One connection on the ingest listener: an HTTP request whose body is the publisher's TS.
class IngestSession final : public PublisherOwner, public HttpRequestHandler {
 public:
  IngestSession(lws* wsi, RelayState& relay)
      : wsi_(wsi), relay_(relay), parser_(*this, relay.config.max_header_bytes) {
    const int fd = lws_get_socket_fd(wsi);
    peer_ = peer_address(fd);
    loopback_ = peer_is_loopback(fd);
  }
  ~IngestSession() override { detach(); }

  /// Bytes from the socket. Returns -1 to close the connection now.
  int on_rx(const uint8_t* data, size_t len) {
    last_rx_ms_ = now_ms();
    if (state_ == State::responding || state_ == State::draining) return 0;  // discard until closed
    if (state_ == State::head) head_bytes_.insert(head_bytes_.end(), data, data + len);
    const HttpRequestParser::Status status = parser_.feed(data, len);
    if (state_ == State::handing_over) {
      // A WebSocket publisher: lws does the handshake and framing on a vhost of its own; it gets
      // a duplicate of the socket and every byte read so far. Closing this raw connection then
      // closes only our descriptor (lws does not shut a raw socket down).
      if (head_bytes_.size() > kMaxHandOverBytes) {
        ++relay_.counters.ingest_refused;
        MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "ingest %s: GET %s refused: WebSocket request head over %zu bytes", peer_.c_str(),
                 path_.substr(0, 80).c_str(), kMaxHandOverBytes);
      } else {
        hand_over_to_ws_ingest(wsi_, relay_, head_bytes_.data(), head_bytes_.size());
      }
      head_bytes_.clear();
      return -1;
    }
    if (state_ != State::head) std::vector<uint8_t>().swap(head_bytes_);
    switch (status) {
      case HttpRequestParser::Status::ok:
      case HttpRequestParser::Status::stopped:
        return 0;
      case HttpRequestParser::Status::head_too_big:
        respond(Refusal::head_too_large);
        return 0;
      case HttpRequestParser::Status::bad_request:
        if (state_ == State::publishing) {
          MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN,
                         "ingest %s: stream %s: bad HTTP body framing (%s); closing", peer_.c_str(),
                         stream_name_.c_str(), parser_.error());
          ++relay_.counters.ingest_refused;
          return -1;
        }
        respond(Refusal::bad_request, parser_.error());
        return 0;
    }
    return 0;
  }

  /// Writable: sends the pending response, then half-closes and drains until the peer closes.
  int on_writable() {
    if (response_.size() <= LWS_PRE) return 0;
    const size_t n = response_.size() - LWS_PRE;
    if (lws_write(wsi_, response_.data() + LWS_PRE, n, LWS_WRITE_RAW) < static_cast<int>(n)) return -1;
    response_.clear();
    shutdown(lws_get_socket_fd(wsi_), SHUT_WR);
    state_ = State::draining;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 2);
    return 0;
  }

  /// The connection is closing (peer gone, timeout, or our own close): one log line saying which.
  void on_close() {
    if (state_ == State::head) {
      // The head has request_timeout_s from connect in all (a slowloris trickle does not reset it).
      if (now_ms() - connected_ms_ + 500 >= relay_.config.request_timeout_s * 1000) {
        ++relay_.counters.ingest_timeouts;
        MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "ingest %s: no complete request within %llds; closed", peer_.c_str(),
                 static_cast<long long>(relay_.config.request_timeout_s));
      } else if (parser_.head_bytes() > 0) {
        MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_INFO, "ingest %s: closed before the request head was complete", peer_.c_str());
      }
    } else if (state_ == State::publishing) {
      log_publisher_end(relay_, "ingest", peer_, stream_name_, stream_, deadline_, last_rx_ms_, now_ms());
    }
    detach();
  }

  void taken_over() override {
    LOG_NOTICE("ingest %s: stream %s taken over by another publisher; closing", peer_.c_str(), stream_name_.c_str());
    stream_ = nullptr;
    state_ = State::draining;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }

  bool on_head(const HttpRequestHead& head) override {
    method_ = head.method;
    path_ = head.url.substr(0, head.url.find('?'));
    if (head.http_major != 1) {  // HTTP/0.9 has no headers and no framing; 2.0 is not spoken here
      respond(Refusal::version_not_supported);
      return false;
    }
    if (head.method == "GET" && strcasecmp(head.upgrade.c_str(), "websocket") == 0 && path_.rfind("/publish/", 0) == 0) {
      state_ = State::handing_over;  // on_rx hands the socket and the head to the WebSocket ingest
      return false;
    }
    if (head.method != "POST" && head.method != "PUT") {
      respond(Refusal::method_not_allowed, "publish with POST, or a WebSocket to /publish/<stream>");
      return false;
    }
    // Route: /publish/<stream> or /<secret>[/<w>/<h>] (JSMpeg's websocket-relay.js).
    const size_t q = head.url.find('?');
    const std::string query = q == std::string::npos ? std::string() : head.url.substr(q + 1);
    std::string secret;
    if (path_.rfind("/publish/", 0) == 0) {
      stream_name_ = path_.substr(9);
      if (!stream_name_.empty() && stream_name_.back() == '/') stream_name_.pop_back();
      secret = publish_secret(query, head.authorization);
    } else {
      const size_t slash = path_.find('/', 1);
      secret = path_.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
      if (auto s = percent_decode(secret)) secret = *s;
      stream_name_ = relay_.config.default_stream;
    }
    if (!valid_stream_name(stream_name_)) {
      respond(Refusal::bad_stream_name);
      return false;
    }
    if (!may_publish(relay_.config, stream_name_, secret, loopback_)) {
      respond(Refusal::forbidden);
      return false;
    }
    std::vector<std::string> via = parse_via(head.via);
    const std::string via_problem = check_via(via, relay_.node_id, relay_.config.cascade_max_hops);
    if (!via_problem.empty()) {
      respond(Refusal::loop_detected, via_problem);
      return false;
    }
    const StreamPolicy* policy = stream_policy(relay_.config, stream_name_);
    HubError err = HubError::none;
    stream_ = relay_.hub.attach_publisher(stream_name_, this, peer_, policy && policy->allow_takeover, now_ms(), err);
    if (!stream_) {
      respond(refusal_of(err));
      return false;
    }
    stream_->publisher_kind = via.empty() ? "connection" : "push";
    stream_->publisher_protocol = "http";
    stream_->via = std::move(via);
    state_ = State::publishing;
    deadline_.attached_ms = now_ms();
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, deadline_.timeout_s(relay_, stream_, deadline_.attached_ms));
    LOG_NOTICE("ingest %s: publishing stream %s (%s body)", peer_.c_str(), stream_name_.c_str(),
               head.chunked ? "chunked" : "content-length");
    if (strcasecmp(head.expect.c_str(), "100-continue") == 0) {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      std::vector<uint8_t> buf(LWS_PRE + sizeof kContinue - 1);
      std::memcpy(buf.data() + LWS_PRE, kContinue, sizeof kContinue - 1);
      lws_write(wsi_, buf.data() + LWS_PRE, sizeof kContinue - 1, LWS_WRITE_RAW);
    }
    return true;
  }

  bool on_body(const uint8_t* data, size_t len) override {
    if (!stream_) return false;
    const PublishResult r = relay_.hub.publish(stream_, data, len, last_rx_ms_);
    if (r != PublishResult::ok) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "ingest %s: stream %s: %s; closing", peer_.c_str(), stream_name_.c_str(), to_string(r));
      detach();
      state_ = State::draining;
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      return false;
    }
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, deadline_.timeout_s(relay_, stream_, last_rx_ms_));
    return true;
  }

  bool on_complete() override {
    LOG_NOTICE("ingest %s: stream %s: publisher finished its request", peer_.c_str(), stream_name_.c_str());
    respond_status(200, "OK", "");
    return false;
  }

 private:
  enum class State { head, publishing, responding, draining, handing_over };

  void detach() {
    if (stream_) {
      relay_.hub.detach_publisher(stream_, this);
      stream_ = nullptr;
    }
  }

  /// Queues the refusal's answer (refusal.h; `detail` replaces its phrase when given) and closes
  /// after sending it.
  void respond(Refusal r, const std::string& detail = std::string()) {
    const RefusalAnswer& a = answer(r);
    respond_status(a.http_status, a.http_reason, detail.empty() ? a.phrase : detail);
  }

  /// Queues a response and closes after sending it. Logs a refusal once, naming the peer
  /// (limited per address).
  void respond_status(int status, const char* reason, const std::string& detail) {
    if (state_ == State::responding || state_ == State::draining) return;
    if (status >= 400) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "ingest %s: %s%s%s refused: %d %s%s%s", peer_.c_str(),
                     method_.empty() ? "request" : method_.c_str(), path_.empty() ? "" : " ",
                     path_.substr(0, 80).c_str(), status, reason, detail.empty() ? "" : ": ", detail.c_str());
    }
    detach();
    const std::string body = detail.empty() ? std::string() : detail + "\n";
    const std::string text = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                             "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                             (status == 405 ? "\r\nAllow: POST, PUT" : "") + "\r\nConnection: close\r\n\r\n" + body;
    response_.assign(LWS_PRE, 0);
    response_.insert(response_.end(), text.begin(), text.end());
    state_ = State::responding;
    lws_callback_on_writable(wsi_);
  }

  lws* wsi_;
  RelayState& relay_;
  HttpRequestParser parser_;
  State state_ = State::head;
  std::string peer_;
  bool loopback_ = false;
  int64_t last_rx_ms_ = now_ms();
  const int64_t connected_ms_ = now_ms();
  std::string method_, path_, stream_name_;
  Stream* stream_ = nullptr;
  PublisherDeadline deadline_;
  std::vector<uint8_t> response_;
  std::vector<uint8_t> head_bytes_;  // raw bytes while the head is parsed (≤ max_header_bytes + one read)
};

int ingest_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<PssSlot<IngestSession>*>(user);
  if (pss && session_ends(wsi, reason, ingest_callback)) {  // before lws frees the storage
    if (IngestSession* s = pss->get()) s->on_close();
    pss->destroy();
  }
  if (int rc = 0; account_connection(wsi, reason, in, rc)) return rc;
  switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT: {
      RelayState& relay = relay_state(wsi);
      ++relay.counters.ingest_connections;
      pss->make(wsi, relay);
      lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, static_cast<int>(relay.config.request_timeout_s));
      return 0;
    }
    case LWS_CALLBACK_RAW_RX:
      return pss->get() ? pss->get()->on_rx(static_cast<const uint8_t*>(in), len) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
      return pss->get() ? pss->get()->on_writable() : -1;
    default:
      return 0;
  }
}

}  // namespace

const lws_protocols& http_ingest_protocol() {
  static const lws_protocols p = {"mpegcast-ingest", ingest_callback, sizeof(PssSlot<IngestSession>), 0, 0, nullptr, 0};
  return p;
}

}  // namespace mpegcast::relay
