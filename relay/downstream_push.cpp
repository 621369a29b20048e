#include "downstream_push.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "backoff.h"
#include "cascade_via.h"
#include "clock.h"
#include "log.h"
#include "relay_state.h"
#include "version.h"

namespace mpegcast::relay {

std::string redact_url(std::string_view url) {
  std::string out(url);
  const size_t q = out.find('?');
  if (q == std::string::npos) return out;
  size_t pos = q + 1;
  while (pos < out.size()) {
    size_t end = out.find_first_of("&#", pos);
    if (end == std::string::npos) end = out.size();
    if (out.compare(pos, 7, "secret=") == 0 && pos + 7 <= end) {
      out.replace(pos + 7, end - pos - 7, "***");
      end = pos + 10;
    }
    if (end >= out.size() || out[end] == '#') break;
    pos = end + 1;
  }
  return out;
}

namespace {

static_assert(LWS_PRE <= kChunkHeadroom, "chunks need LWS_PRE bytes of headroom for lws_write");

constexpr const char* kRawProtocol = "mpegcast-push";
constexpr const char* kWsProtocol = "mpegcast-push-ws";
constexpr int64_t kTimerMs = 200;            // link housekeeping period
constexpr int64_t kStableMs = 5000;          // a connection up this long resets the backoff
constexpr size_t kMaxResponseBytes = 4096;   // what we read of a downstream's HTTP response
constexpr int kCloseGraceS = 2;              // a deliberate close waits this long for a writable

// ------------------------------------------------------------------------- name lookup

/// One host name lookup on its own helper thread (getaddrinfo may block for seconds, and Debian's
/// lws has no async DNS). The thread owns a reference, so the link may drop its reference at any
/// time (reconnect, shutdown) without waiting; the thread never touches lws.
struct Lookup {
  std::mutex mu;
  bool done = false;
  std::string address;  // numeric IPv4 address when done and ok
  std::string error;    // gai_strerror() text when done and failed
};

struct AddrinfoDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

void run_lookup(const std::shared_ptr<Lookup>& lookup, const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;  // the context is built with LWS_SERVER_OPTION_DISABLE_IPV6
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, AddrinfoDeleter> res(raw);
  std::string address, error;
  if (rc == 0 && res && res->ai_family == AF_INET) {
    char text[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(res->ai_addr)->sin_addr, text, sizeof text);
    address = text;
  } else {
    error = rc != 0 ? gai_strerror(rc) : "no IPv4 address";
  }
  std::lock_guard<std::mutex> lock(lookup->mu);
  lookup->address = std::move(address);
  lookup->error = std::move(error);
  lookup->done = true;
}

/// Starts resolving `host`; the result shows in the returned Lookup once `done`.
std::shared_ptr<Lookup> start_lookup(const std::string& host) {
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread(run_lookup, lookup, host).detach();
  } catch (const std::system_error& e) {
    std::lock_guard<std::mutex> lock(lookup->mu);
    lookup->error = std::string("cannot start a resolver thread: ") + e.what();
    lookup->done = true;
  }
  return lookup;
}

bool is_numeric_address(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// ------------------------------------------------------------------------- one link

enum class Kind { http, ws, tcp };
enum class State { idle, resolving, connecting, connected, backoff };
/// Why we close a connection ourselves.
enum class Closing { no, idle, reconnect, failed };

/// One push link: a subscriber of its local stream and (at most) one client connection.
class PushLink final : public SubscriberOwner {
 public:
  PushLink(lws_context* context, lws_vhost* vhost, RelayState& relay, const PushConfig& cfg)
      : context_(context),
        vhost_(vhost),
        relay_(relay),
        cfg_(cfg),
        kind_(cfg.target.scheme == "http" ? Kind::http : cfg.target.scheme == "ws" ? Kind::ws : Kind::tcp),
        name_(cfg.stream + " to " + redact_url(cfg.url)),
        idle_close_ms_(std::max<int64_t>(1000, relay.config.publisher_timeout_s * 1000 / 2)),
        backoff_(250, 10000) {
    const Url& u = cfg.target;
    const bool v6 = u.host.find(':') != std::string::npos;
    host_header_ = (v6 ? "[" + u.host + "]" : u.host) + (u.port == 80 && kind_ != Kind::tcp ? "" : ":" + std::to_string(u.port));
    target_ = u.path + (u.query.empty() ? "" : "?" + u.query);
    timer_.self = this;
  }

  ~PushLink() override {
    lws_sul_cancel(&timer_.sul);
    if (sub_) relay_.hub.unsubscribe(sub_);
    sub_ = nullptr;
    // The context's destruction closes the connection; its callbacks then find no link.
    if (wsi_) lws_set_opaque_user_data(wsi_, nullptr);
  }

  PushLink(const PushLink&) = delete;
  PushLink& operator=(const PushLink&) = delete;

  /// Starts the housekeeping timer (the link connects once its stream has data).
  void start() {
    LOG_INFO("push %s: waiting for local data (%s link)", name_.c_str(), cfg_.target.scheme.c_str());
    schedule(kTimerMs);
  }

  // ---- lws callbacks (service thread)

  /// The connection attempt failed before it was up (refused, unreachable, WS handshake refused).
  void on_connection_error(lws* wsi, const char* why) {
    lws_set_opaque_user_data(wsi, nullptr);  // no further callbacks for this wsi reach us
    wsi_ = nullptr;
    drop_subscriber();
    std::string what = "cannot connect to " + address_ + ": " + (why && *why ? why : "connect failed");
    const unsigned status = kind_ == Kind::ws ? lws_http_client_http_response(wsi) : 0;
    if (status >= 300) {  // the WebSocket handshake was answered with a refusal (e.g. 403, 409, 508)
      what = "refused by the downstream: HTTP " + std::to_string(status) + " to the WebSocket handshake";
    }
    if (!pending_error_.empty()) what = pending_error_;
    fail(what);
  }

  /// TCP connected (raw) or WS handshake done: subscribe and start writing. Returns -1 to close.
  int on_connected(lws* wsi) {
    wsi_ = wsi;
    state_ = State::connected;
    connected_ms_ = now_ms();
    ++connects_;
    head_sent_ = kind_ != Kind::http;
    chunk_open_ = false;
    closing_ = Closing::no;
    pending_error_.clear();
    rx_.clear();
    Stream* st = relay_.hub.find(cfg_.stream);
    publishers_total_ = st ? st->stats().publishers_total : 0;
    if (kind_ == Kind::http) build_head();
    HubError err = HubError::none;
    sub_ = relay_.hub.subscribe(cfg_.stream, this, connected_ms_, err);
    if (!sub_) {
      pending_error_ = std::string("local subscription refused: ") + to_string(err);
      closing_ = Closing::failed;
      return -1;
    }
    if (last_error_logged_.empty()) {
      LOG_NOTICE("push %s: connected to %s", name_.c_str(), address_.c_str());
    } else {
      LOG_DEBUG("push %s: connected to %s (attempt %d)", name_.c_str(), address_.c_str(), backoff_.attempts());
    }
    lws_callback_on_writable(wsi);
    return 0;
  }

  /// Writable: the request head first (http), then one chunk per callback: http and tcp straight
  /// from the shared chunk (the chunked-encoding size line goes into the chunk's headroom), ws from
  /// a per-link copy (lws XORs a client frame's mask into the payload in place, which would corrupt
  /// the chunk for every other subscriber). Returns -1 to close.
  int on_writable(lws* wsi) {
    if (closing_ != Closing::no) return finish_close(wsi);
    if (!head_sent_) {
      const size_t n = head_.size() - LWS_PRE;
      if (lws_write(wsi, head_.data() + LWS_PRE, n, LWS_WRITE_RAW) < static_cast<int>(n)) {
        pending_error_ = "cannot write the request head";
        return -1;
      }
      head_sent_ = true;
      if (sub_ && sub_->has_data()) lws_callback_on_writable(wsi);
      return 0;
    }
    if (!sub_) return 0;
    const Chunk* c = sub_->next(now_ms());
    if (!c || c->empty()) return 0;
    uint8_t* data = c->wire_data();
    size_t n = c->size();
    lws_write_protocol type = LWS_WRITE_RAW;
    if (kind_ == Kind::http) {
      // "\r\n" ends the previous chunk's data (sent lazily, so no bytes are needed after this one).
      char prefix[24];
      const int k = std::snprintf(prefix, sizeof prefix, "%s%x\r\n", chunk_open_ ? "\r\n" : "",
                                  static_cast<unsigned>(n));
      if (k <= 0 || static_cast<size_t>(k) > kChunkHeadroom) return -1;
      data -= k;
      std::memcpy(data, prefix, static_cast<size_t>(k));
      n += static_cast<size_t>(k);
      chunk_open_ = true;
    } else if (kind_ == Kind::ws) {
      if (ws_buf_.size() < LWS_PRE + n) ws_buf_.resize(LWS_PRE + n);  // grows to the largest chunk once
      std::memcpy(ws_buf_.data() + LWS_PRE, data, n);
      data = ws_buf_.data() + LWS_PRE;
      type = LWS_WRITE_BINARY;
    }
    if (lws_write(wsi, data, n, type) < 0) {
      pending_error_ = "write failed";
      return -1;
    }
    bytes_out_ += c->size();
    if (sub_->has_data()) lws_callback_on_writable(wsi);
    return 0;
  }

  /// Bytes from the downstream. An HTTP ingest answers only to refuse or to end the request;
  /// a raw TCP receiver has nothing to say. Returns -1 to close.
  int on_rx(const uint8_t* data, size_t len) {
    if (kind_ != Kind::http) return 0;
    const size_t take = std::min(len, kMaxResponseBytes - std::min(kMaxResponseBytes, rx_.size()));
    rx_.append(reinterpret_cast<const char*>(data), take);
    for (;;) {
      const size_t head_end = rx_.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        if (rx_.size() >= kMaxResponseBytes) {
          pending_error_ = "downstream sent something that is not an HTTP response";
          return -1;
        }
        return 0;
      }
      const int status = std::atoi(rx_.c_str() + std::min<size_t>(rx_.size(), 9));
      if (status == 100) {  // 100 Continue: the body is welcome
        rx_.erase(0, head_end + 4);
        continue;
      }
      // Wait for a short body (the ingest's reason) unless it is cut off or already complete.
      const size_t cl_at = find_header(rx_.substr(0, head_end), "content-length:");
      const size_t body_len = cl_at == std::string::npos ? 0 : static_cast<size_t>(std::atol(rx_.c_str() + cl_at));
      if (rx_.size() < head_end + 4 + std::min(body_len, size_t{512}) && rx_.size() < kMaxResponseBytes) return 0;
      pending_error_ = describe_response(head_end);
      closing_ = Closing::failed;
      return -1;
    }
  }

  /// A WebSocket downstream closed with a reason.
  void on_peer_close(const uint8_t* in, size_t len) {
    if (len < 2) return;
    const unsigned code = (static_cast<unsigned>(in[0]) << 8) | in[1];
    std::string reason(reinterpret_cast<const char*>(in) + 2, std::min<size_t>(len - 2, 120));
    pending_error_ = "downstream closed the WebSocket: " + std::to_string(code) + (reason.empty() ? "" : " " + reason);
  }

  /// The connection is gone (either side closed it).
  void on_closed(lws* wsi) {
    lws_set_opaque_user_data(wsi, nullptr);
    if (wsi_ == wsi) wsi_ = nullptr;
    drop_subscriber();
    const Closing why = closing_;
    closing_ = Closing::no;
    if (state_ != State::connected && state_ != State::connecting) return;
    if (why == Closing::idle) {
      state_ = State::idle;
      LOG_NOTICE("push %s: disconnected: local stream idle (no publisher or no data for %lld ms); reconnects when data flows", name_.c_str(),
                 static_cast<long long>(idle_close_ms_));
      return;
    }
    if (why == Closing::reconnect) {
      LOG_INFO("push %s: local stream has a new publisher; reconnecting to send its path", name_.c_str());
      backoff_.reset();
      begin_connect();
      return;
    }
    std::string what = pending_error_;
    if (what.empty()) {
      what = rx_.empty() ? "connection closed by the downstream" : describe_response(rx_.find("\r\n\r\n"));
    }
    fail(what);
  }

  /// Appends X-Mpegcast-Via to a WebSocket handshake. Returns -1 when it does not fit.
  int append_handshake_header(char** p, size_t room) {
    const std::string line = std::string(kViaHeader) + ": " + via_value() + "\r\n";
    if (line.size() >= room) return -1;
    std::memcpy(*p, line.data(), line.size());
    *p += line.size();
    return 0;
  }

  // ---- SubscriberOwner

  void wake() override {
    if (wsi_ && state_ == State::connected) lws_callback_on_writable(wsi_);
  }

  void close(SubscriberClose why) override {
    if (!wsi_) return;
    pending_error_ = std::string("closed by the local hub: ") + to_string(why);
    closing_ = Closing::failed;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }

  PushLinkStats stats() const {
    PushLinkStats s;
    s.stream = cfg_.stream;
    s.url = redact_url(cfg_.url);
    s.connected = state_ == State::connected && head_sent_;
    s.bytes_out = bytes_out_;
    s.connects = connects_;
    s.failures = failures_;
    s.last_error = last_error_;
    return s;
  }

 private:
  struct Timer {
    lws_sorted_usec_list_t sul{};  // must stay first: the callback casts back from it
    PushLink* self = nullptr;
  };

  static void on_timer(lws_sorted_usec_list_t* sul) {
    PushLink* self = reinterpret_cast<Timer*>(sul)->self;
    self->tick(now_ms());
    self->schedule(kTimerMs);
  }

  void schedule(int64_t ms) {
    lws_sul_schedule(context_, 0, &timer_.sul, &PushLink::on_timer, ms * 1000);
  }

  /// True while the local stream has a publisher whose data arrived within idle_close_ms_.
  bool local_live(int64_t now, Stream** stream) {
    Stream* st = relay_.hub.find(cfg_.stream);
    *stream = st;
    if (!st) return false;
    if (st->newest_seq() != last_seq_) {
      last_seq_ = st->newest_seq();
      last_data_ms_ = now;
    }
    return st->has_publisher() && now - last_data_ms_ < idle_close_ms_;
  }

  void tick(int64_t now) {
    Stream* st = nullptr;
    const bool live = local_live(now, &st);
    switch (state_) {
      case State::idle:
        if (live) begin_connect();
        break;
      case State::backoff:
        if (now >= retry_at_ms_) {
          if (live) {
            begin_connect();
          } else {
            state_ = State::idle;
          }
        }
        break;
      case State::resolving:
        poll_lookup();
        break;
      case State::connecting:
        break;  // lws times the connect out (context timeout_secs)
      case State::connected:
        if (closing_ != Closing::no || !wsi_) break;
        if (!live) {
          begin_close(Closing::idle);
        } else if (kind_ != Kind::tcp && st && st->stats().publishers_total != publishers_total_) {
          begin_close(Closing::reconnect);
        } else if (now - connected_ms_ >= kStableMs && backoff_.attempts() > 0) {
          if (!last_error_logged_.empty()) {
            LOG_NOTICE("push %s: connected again to %s after %d attempts", name_.c_str(), address_.c_str(),
                       backoff_.attempts());
            last_error_logged_.clear();
          }
          backoff_.reset();
        }
        break;
    }
  }

  void begin_connect() {
    pending_error_.clear();
    rx_.clear();
    if (is_numeric_address(cfg_.target.host)) {
      connect_to(cfg_.target.host);
      return;
    }
    state_ = State::resolving;
    lookup_ = start_lookup(cfg_.target.host);
  }

  void poll_lookup() {
    std::string address, error;
    {
      std::lock_guard<std::mutex> lock(lookup_->mu);
      if (!lookup_->done) return;
      address = lookup_->address;
      error = lookup_->error;
    }
    lookup_.reset();
    if (address.empty()) return fail("cannot resolve " + cfg_.target.host + ": " + error);
    connect_to(address);
  }

  void connect_to(const std::string& address) {
    address_ = address + ":" + std::to_string(cfg_.target.port);
    connect_address_ = address;
    lws_client_connect_info i{};
    i.context = context_;
    i.vhost = vhost_;
    i.address = connect_address_.c_str();
    i.port = cfg_.target.port;
    i.host = host_header_.c_str();
    i.origin = host_header_.c_str();
    i.path = target_.c_str();
    i.opaque_user_data = this;
    if (kind_ == Kind::ws) {
      i.local_protocol_name = kWsProtocol;
    } else {
      i.method = "RAW";
      i.local_protocol_name = kRawProtocol;
    }
    state_ = State::connecting;
    lws* wsi = lws_client_connect_via_info(&i);
    // A synchronous failure may already have called on_connection_error() (state is backoff then).
    if (!wsi) {
      if (state_ == State::connecting) fail("cannot start a connection to " + address_);
      return;
    }
    if (state_ == State::connecting || state_ == State::connected) wsi_ = wsi;
  }

  /// Closes the connection on purpose: `why` decides what follows (idle wait or reconnect).
  void begin_close(Closing why) {
    closing_ = why;
    lws_callback_on_writable(wsi_);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, kCloseGraceS);  // in case it never gets writable
  }

  /// Writable while closing: ends an HTTP body properly (the ingest then logs a finished request).
  int finish_close(lws* wsi) {
    if (kind_ == Kind::http && head_sent_ && closing_ != Closing::failed) {
      static const char kEndOpen[] = "\r\n0\r\n\r\n";
      const char* end = chunk_open_ ? kEndOpen : kEndOpen + 2;
      const size_t n = std::strlen(end);
      uint8_t buf[LWS_PRE + sizeof kEndOpen];
      std::memcpy(buf + LWS_PRE, end, n);
      lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_RAW);
    } else if (kind_ == Kind::ws) {
      lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
    }
    return -1;
  }

  /// Counts a failure, logs it when it differs from the last one logged, and schedules a retry.
  void fail(const std::string& what) {
    const int64_t now = now_ms();
    drop_subscriber();
    if (state_ == State::connected && now - connected_ms_ >= kStableMs) backoff_.reset();
    ++failures_;
    last_error_ = what;
    const int64_t delay_ms = backoff_.next_delay_ms();
    retry_at_ms_ = now + delay_ms;
    state_ = State::backoff;
    if (what != last_error_logged_) {
      LOG_WARN("push %s: %s; retrying with backoff (next in %lld ms, further failures like this are not logged)",
               name_.c_str(), what.c_str(), static_cast<long long>(delay_ms));
      last_error_logged_ = what;
    } else {
      LOG_DEBUG("push %s: %s (attempt %d; next in %lld ms)", name_.c_str(), what.c_str(), backoff_.attempts(),
                static_cast<long long>(delay_ms));
    }
  }

  void drop_subscriber() {
    if (sub_) relay_.hub.unsubscribe(sub_);
    sub_ = nullptr;
  }

  /// The via list sent downstream: the local stream's path plus this relay.
  std::string via_value() const {
    const Stream* st = relay_.hub.find(cfg_.stream);
    std::vector<std::string> via = st ? st->via : std::vector<std::string>();
    via.push_back(relay_.node_id);
    return format_via(via);
  }

  void build_head() {
    const std::string head = "POST " + target_ + " HTTP/1.1\r\nHost: " + host_header_ +
                             "\r\nUser-Agent: mpegcast-relay/" + kVersion +
                             "\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n" + kViaHeader + ": " +
                             via_value() + "\r\n\r\n";
    head_.assign(LWS_PRE, 0);
    head_.insert(head_.end(), head.begin(), head.end());
  }

  /// Offset of the value of header `name_lc` (lower case, with ':') in `head`, or npos.
  static size_t find_header(const std::string& head, const char* name_lc) {
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const size_t at = lower.find(std::string("\r\n") + name_lc);
    return at == std::string::npos ? at : at + 2 + std::strlen(name_lc);
  }

  /// "refused by the downstream: 508 Loop Detected: <first body line>" from the response in rx_.
  std::string describe_response(size_t head_end) const {
    const size_t line_end = rx_.find("\r\n");
    std::string status = rx_.substr(0, std::min(line_end, size_t{120}));
    if (status.rfind("HTTP/", 0) == 0 && status.find(' ') != std::string::npos) status = status.substr(status.find(' ') + 1);
    std::string body;
    if (head_end != std::string::npos) {
      body = rx_.substr(head_end + 4, 200);
      body = body.substr(0, body.find_first_of("\r\n"));
    }
    const int code = std::atoi(status.c_str());
    const std::string prefix = code >= 200 && code < 300 ? "downstream ended the request: " : "refused by the downstream: ";
    return prefix + status + (body.empty() ? "" : ": " + body);
  }

  lws_context* context_;
  lws_vhost* vhost_;
  RelayState& relay_;
  const PushConfig& cfg_;
  const Kind kind_;
  const std::string name_;          // "cam1 to http://…?secret=***", for logs
  const int64_t idle_close_ms_;
  std::string host_header_, target_;
  std::string address_, connect_address_;
  Backoff backoff_;
  Timer timer_;
  State state_ = State::idle;
  Closing closing_ = Closing::no;
  lws* wsi_ = nullptr;
  Subscriber* sub_ = nullptr;
  std::shared_ptr<Lookup> lookup_;
  std::vector<uint8_t> head_;       // LWS_PRE + the HTTP request head
  std::vector<uint8_t> ws_buf_;     // LWS_PRE + a copy of the chunk being sent (ws only)
  bool head_sent_ = false;
  bool chunk_open_ = false;         // a chunk's data was sent without its closing CRLF
  std::string rx_;                  // the downstream's HTTP response so far
  std::string pending_error_;       // why the current connection is failing
  std::string last_error_, last_error_logged_;
  uint64_t last_seq_ = 0;
  int64_t last_data_ms_ = INT64_MIN / 2;
  int64_t connected_ms_ = 0, retry_at_ms_ = 0;
  uint64_t publishers_total_ = 0;
  uint64_t bytes_out_ = 0, connects_ = 0, failures_ = 0;
};

/// One callback for both client protocols; the link is the wsi's opaque user data.
int push_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* link = static_cast<PushLink*>(lws_get_opaque_user_data(wsi));
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (link) link->on_connection_error(wsi, static_cast<const char*>(in));
      return 0;
    case LWS_CALLBACK_RAW_CONNECTED:
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      return link ? link->on_connected(wsi) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return link ? link->on_writable(wsi) : -1;
    case LWS_CALLBACK_RAW_RX:
      return link ? link->on_rx(static_cast<const uint8_t*>(in), len) : -1;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      return link ? 0 : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (link) link->on_peer_close(static_cast<const uint8_t*>(in), len);
      return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
      return link ? link->append_handshake_header(static_cast<char**>(in), len) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (link) link->on_closed(wsi);
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace

/// All push links of the relay and the vhost their connections live on.
class PushLinks {
 public:
  std::vector<std::unique_ptr<PushLink>> links;
};

void PushLinksDeleter::operator()(PushLinks* p) const { std::default_delete<PushLinks>()(p); }

PushLinksPtr start_push_links(lws_context* context, RelayState& relay) {
  PushLinksPtr out(new PushLinks);
  if (relay.config.push.empty()) return out;
  static lws_protocols protocols[3];
  // tx_packet_size: one send per chunk (lws caps a send at rx_buffer_size otherwise, see viewer_egress).
  protocols[0] = {kRawProtocol, push_callback, 0, 0, 0, nullptr, (1 << 20) + kChunkHeadroom};
  protocols[1] = {kWsProtocol, push_callback, 0, 4096, 0, nullptr, (1 << 20) + kChunkHeadroom};
  protocols[2] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};
  lws_context_creation_info vi{};
  vi.vhost_name = "push";
  vi.port = CONTEXT_PORT_NO_LISTEN;
  vi.protocols = protocols;
  vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  lws_vhost* vhost = lws_create_vhost(context, &vi);
  if (!vhost) {
    LOG_ERR("push: cannot create the client vhost for %zu push links", relay.config.push.size());
    return nullptr;
  }
  for (const PushConfig& cfg : relay.config.push) {
    out->links.push_back(std::make_unique<PushLink>(context, vhost, relay, cfg));
    out->links.back()->start();
  }
  LOG_NOTICE("push: %zu downstream links (node %s, cascade_max_hops %lld)", out->links.size(), relay.node_id.c_str(),
             static_cast<long long>(relay.config.cascade_max_hops));
  return out;
}

std::vector<PushLinkStats> push_link_stats(const PushLinks* links) {
  std::vector<PushLinkStats> out;
  if (!links) return out;
  for (const auto& l : links->links) out.push_back(l->stats());
  return out;
}

}  // namespace mpegcast::relay
