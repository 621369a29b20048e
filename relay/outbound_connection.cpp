#include "outbound_connection.h"

#include <algorithm>
#include <cstring>

#include "clock.h"
#include "log.h"
#include "relay_state.h"

namespace mpegcast::relay {

OutboundConnection::OutboundConnection(RelayState& relay, lws_vhost* vhost, std::string log_name,
                                       const char* peer_role, const Url& target, Transport transport,
                                       ConnectionOwner& owner)
    : relay_(relay),
      vhost_(vhost),
      log_name_(std::move(log_name)),
      peer_role_(peer_role),
      target_(target),
      transport_(transport),
      owner_(owner) {
  path_ = target_.path + (target_.query.empty() ? "" : "?" + target_.query);
  host_header_ = host_header();
}

OutboundConnection::~OutboundConnection() {
  lookup_.reset();
  // The context's destruction (or the drop below) closes the connection; its callbacks then find
  // no connection in the wsi's opaque user data.
  if (wsi_) {
    lws_set_opaque_user_data(wsi_, nullptr);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

std::string OutboundConnection::host_header() const {
  const bool v6 = target_.host.find(':') != std::string::npos;
  const bool default_port = target_.port == 80 && (target_.scheme == "http" || target_.scheme == "ws");
  return (v6 ? "[" + target_.host + "]" : target_.host) + (default_port ? "" : ":" + std::to_string(target_.port));
}

void OutboundConnection::connect() {
  if (state_ == State::resolving || state_ == State::connecting || state_ == State::connected) return;
  pending_error_.clear();
  closing_ = false;
  state_ = State::resolving;
  lookup_ = relay_.resolver->resolve(target_.host, [this](const std::string& address, const std::string& error) {
    lookup_.reset();
    if (state_ != State::resolving) return;
    if (address.empty()) {
      fail("cannot resolve " + target_.host + ": " + error);
      owner_.on_down(true);
      return;
    }
    connect_to(address);
  });
}

void OutboundConnection::connect_to(const std::string& address) {
  const bool v6 = address.find(':') != std::string::npos;
  address_ = (v6 ? "[" + address + "]" : address) + ":" + std::to_string(target_.port);
  connect_address_ = address;
  lws_client_connect_info i{};
  i.context = relay_.context;
  i.vhost = vhost_;
  i.address = connect_address_.c_str();
  i.port = target_.port;
  i.host = host_header_.c_str();
  i.origin = host_header_.c_str();
  i.path = path_.c_str();
  i.opaque_user_data = this;
  if (transport_ == Transport::websocket) {
    i.local_protocol_name = kWsProtocol;
  } else {
    i.method = "RAW";
    i.local_protocol_name = kRawProtocol;
  }
  state_ = State::connecting;
  lws* wsi = lws_client_connect_via_info(&i);
  // A synchronous failure may already have called lws_connection_error() (state is backoff then).
  if (!wsi) {
    if (state_ == State::connecting) {
      fail("cannot start a connection to " + address_);
      owner_.on_down(true);
    }
    return;
  }
  if (state_ == State::connecting || state_ == State::connected) wsi_ = wsi;
}

void OutboundConnection::close(int grace_s) {
  if (!wsi_) return;
  closing_ = true;
  lws_callback_on_writable(wsi_);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, grace_s);  // in case it never gets writable
}

void OutboundConnection::drop() {
  if (wsi_) lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void OutboundConnection::cancel_retry() {
  if (state_ == State::backoff) state_ = State::idle;
}

void OutboundConnection::tick(int64_t now) {
  if (state_ != State::connected || now - up_since_ms_ < kStableMs || backoff_.attempts() == 0) return;
  if (!last_error_logged_.empty()) {
    LOG_NOTICE("%s: connected again to %s after %d attempts", log_name_.c_str(), address_.c_str(), backoff_.attempts());
    last_error_logged_.clear();
  }
  backoff_.reset();
}

void OutboundConnection::set_error(const std::string& what, bool override) {
  if (pending_error_.empty() || override) pending_error_ = what;
}

void OutboundConnection::fail(const std::string& what) {
  const int64_t now = now_ms();
  if (state_ == State::connected && now - up_since_ms_ >= kStableMs) backoff_.reset();
  ++failures_;
  last_error_ = what;
  const int64_t delay_ms = backoff_.next_delay_ms();
  retry_at_ms_ = now + delay_ms;
  state_ = State::backoff;
  if (what != last_error_logged_) {
    LOG_WARN("%s: %s; retrying with backoff (next in %lld ms, further failures like this are not logged)",
             log_name_.c_str(), what.c_str(), static_cast<long long>(delay_ms));
    last_error_logged_ = what;
  } else {
    LOG_DEBUG("%s: %s (attempt %d; next in %lld ms)", log_name_.c_str(), what.c_str(), backoff_.attempts(),
              static_cast<long long>(delay_ms));
  }
}

void OutboundConnection::lws_connection_error(lws* wsi, const char* why) {
  lws_set_opaque_user_data(wsi, nullptr);  // no further callbacks for this wsi reach us
  wsi_ = nullptr;
  std::string what = "cannot connect to " + address_ + ": " + (why && *why ? why : "connect failed");
  const unsigned status = transport_ == Transport::websocket ? lws_http_client_http_response(wsi) : 0;
  if (status >= 300) {  // the WebSocket handshake was answered with a refusal (e.g. 403, 404, 508)
    what = std::string("refused by the ") + peer_role_ + ": HTTP " + std::to_string(status) +
           " to the WebSocket handshake";
  }
  if (!pending_error_.empty()) what = pending_error_;
  if (closing_) {
    closing_ = false;
    state_ = State::idle;
    owner_.on_down(false);
    return;
  }
  fail(what);
  owner_.on_down(true);
}

int OutboundConnection::lws_up(lws* wsi) {
  wsi_ = wsi;
  state_ = State::connected;
  up_since_ms_ = now_ms();
  ++connects_;
  if (last_error_logged_.empty()) {
    LOG_NOTICE("%s: connected to %s", log_name_.c_str(), address_.c_str());
  } else {
    LOG_DEBUG("%s: connected to %s (attempt %d)", log_name_.c_str(), address_.c_str(), backoff_.attempts());
  }
  return owner_.on_up() ? 0 : -1;
}

void OutboundConnection::lws_closed(lws* wsi) {
  lws_set_opaque_user_data(wsi, nullptr);
  if (wsi_ == wsi) wsi_ = nullptr;
  if (state_ != State::connected && state_ != State::connecting) return;
  if (closing_) {
    closing_ = false;
    state_ = State::idle;
    owner_.on_down(false);
    return;
  }
  std::string what = pending_error_.empty() ? owner_.close_reason() : pending_error_;
  if (what.empty()) what = std::string("connection closed by the ") + peer_role_;
  fail(what);
  owner_.on_down(true);
}

void OutboundConnection::lws_peer_close(const uint8_t* in, size_t len) {
  if (len < 2) return;
  const unsigned code = (static_cast<unsigned>(in[0]) << 8) | in[1];
  std::string reason(reinterpret_cast<const char*>(in) + 2, std::min<size_t>(len - 2, 120));
  set_error(std::string(peer_role_) + " closed the WebSocket: " + std::to_string(code) + (reason.empty() ? "" : " " + reason));
}

int OutboundConnection::lws_append_handshake_header(char** p, size_t room) {
  const std::string lines = owner_.handshake_headers();
  if (lines.size() >= room) return -1;
  std::memcpy(*p, lines.data(), lines.size());
  *p += lines.size();
  return 0;
}

}  // namespace mpegcast::relay
