// The outbound half that push and pull links share: one client connection to a peer relay (or
// any receiver), with the host name resolved off the service thread, exponential backoff with
// jitter between attempts, and one log line per change of failure ("… connected again after N
// attempts" once it holds). What goes over the connection is the link's business (its wire
// format, see push_wire.h / pull_wire.h): the connection only reports what happens.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <string>

#include "backoff.h"
#include "link_scheme.h"
#include "resolver.h"
#include "url.h"

namespace mpegcast::relay {

struct RelayState;

/// The link that owns an OutboundConnection. Every call comes on the service thread.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  /// Up: TCP connected (raw) or the WebSocket handshake done. Return false to close at once
  /// (after OutboundConnection::set_error()).
  virtual bool on_up() = 0;
  /// The socket can take more. Returns -1 to close.
  virtual int on_writable() = 0;
  /// Bytes from the peer (raw) or one WebSocket message fragment. Returns -1 to close.
  virtual int on_rx(const uint8_t* data, size_t len) = 0;
  /// The connection ended. `failed`: it failed (already counted, logged once per change, and a
  /// retry scheduled: the connection is in backoff); otherwise the owner closed it on purpose.
  virtual void on_down(bool failed) = 0;
  /// Extra WebSocket handshake header lines ("Name: value\r\n"…), "" for none.
  virtual std::string handshake_headers() { return {}; }
  /// Why the peer ended the connection, from what it sent (e.g. its HTTP response); "" when it
  /// said nothing ("connection closed by the <peer>" is logged then).
  virtual std::string close_reason() { return {}; }
};

/// One connection (at a time) to `target`. Not copyable; owned by its link.
class OutboundConnection {
 public:
  /// `log_name` starts every log line ("push cam1 to http://…", secrets masked). `vhost` is the
  /// links' client vhost; its protocols are kRawProtocol and kWsProtocol.
  /// `peer_role` names the peer in failure lines ("downstream", "upstream"). `transport` is
  /// Transport::raw or Transport::websocket (libavformat links have no OutboundConnection).
  OutboundConnection(RelayState& relay, lws_vhost* vhost, std::string log_name, const char* peer_role,
                     const Url& target, Transport transport, ConnectionOwner& owner);
  ~OutboundConnection();
  OutboundConnection(const OutboundConnection&) = delete;
  OutboundConnection& operator=(const OutboundConnection&) = delete;

  enum class State { idle, resolving, connecting, connected, backoff };

  /// Starts an attempt (resolve, then connect) unless one is under way or up.
  void connect();
  /// Closes on purpose: the owner's on_writable() runs once more (to end a body or send a close
  /// frame) and returns -1; after `grace_s` the connection is dropped anyway. on_down(false) follows.
  void close(int grace_s = 2);
  /// Drops the connection at once (from outside its callbacks) as a failure with the reason
  /// given to set_error(). on_down(true) follows.
  void drop();
  /// Gives up a pending retry (backoff → idle).
  void cancel_retry();
  /// Once in a while (the link's timer): resets the backoff after a connection held kStableMs.
  void tick(int64_t now_ms);

  /// Why the current connection is failing, for the log line when it ends (the first reason wins
  /// unless `override`).
  void set_error(const std::string& what, bool override = false);
  /// Counts a failure that never reached the socket (e.g. a local refusal), logs it once per
  /// change and schedules a retry.
  void fail(const std::string& what);

  State state() const { return state_; }
  bool up() const { return state_ == State::connected; }
  /// True when waiting in backoff and the delay has passed.
  bool retry_due(int64_t now_ms) const { return state_ == State::backoff && now_ms >= retry_at_ms_; }
  bool closing() const { return closing_; }
  lws* wsi() const { return wsi_; }
  void request_writable() {
    if (wsi_) lws_callback_on_writable(wsi_);
  }
  const std::string& log_name() const { return log_name_; }
  const Url& target() const { return target_; }
  /// "ADDR:PORT" of the last attempt ("" before the first).
  const std::string& address() const { return address_; }
  /// The Host header value for the target ("host[:port]", "[v6]:port").
  std::string host_header() const;
  int64_t up_since_ms() const { return up_since_ms_; }
  uint64_t connects() const { return connects_; }
  uint64_t failures() const { return failures_; }
  const std::string& last_error() const { return last_error_; }

  // ---- called by the links' lws callback (links.cpp) for this connection's wsi
  void lws_connection_error(lws* wsi, const char* why);
  int lws_up(lws* wsi);
  int lws_writable() { return owner_.on_writable(); }
  int lws_rx(const uint8_t* data, size_t len) { return owner_.on_rx(data, len); }
  void lws_closed(lws* wsi);
  void lws_peer_close(const uint8_t* in, size_t len);
  int lws_append_handshake_header(char** p, size_t room);

  static constexpr const char* kRawProtocol = "mpegcast-link";
  static constexpr const char* kWsProtocol = "mpegcast-link-ws";

 private:
  void connect_to(const std::string& address);

  RelayState& relay_;
  lws_vhost* vhost_;
  const std::string log_name_;
  const char* peer_role_;
  const Url target_;
  const Transport transport_;
  ConnectionOwner& owner_;
  std::string path_;              // path and query for the lws client connect
  std::string host_header_, connect_address_, address_;
  Backoff backoff_{250, 10000};
  State state_ = State::idle;
  lws* wsi_ = nullptr;
  bool closing_ = false;          // the owner closes on purpose
  Resolver::Ticket lookup_;
  std::string pending_error_;     // why the current connection is failing
  std::string last_error_, last_error_logged_;
  int64_t up_since_ms_ = 0, retry_at_ms_ = 0;
  uint64_t connects_ = 0, failures_ = 0;
  static constexpr int64_t kStableMs = 5000;  // a connection up this long resets the backoff
};

}  // namespace mpegcast::relay
