#include "viewer_session.h"

#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_received (glibc's netinet/tcp.h lacks it)
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "cascade_via.h"
#include "clock.h"
#include "log.h"
#include "log_limiter.h"

namespace mpegcast::relay {
namespace {

static_assert(LWS_PRE <= kChunkHeadroom, "chunks need LWS_PRE bytes of headroom for lws_write");
static_assert(kChunkHeadroom >= 10, "chunks need room for a WebSocket frame header");

/// Writes the header of one unmasked, final, binary WebSocket frame of `payload_len` bytes
/// (RFC 6455 §5.2: 2, 4 or 10 bytes) so that it ends at `payload`. Returns the header length.
size_t put_ws_binary_header(uint8_t* payload, size_t payload_len) {
  if (payload_len < 126) {
    payload[-2] = 0x82;
    payload[-1] = static_cast<uint8_t>(payload_len);
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    payload[-4] = 0x82;
    payload[-3] = 126;
    payload[-2] = static_cast<uint8_t>(payload_len >> 8);
    payload[-1] = static_cast<uint8_t>(payload_len);
    return 4;
  }
  payload[-10] = 0x82;
  payload[-9] = 127;
  for (int i = 0; i < 8; ++i) payload[-1 - i] = static_cast<uint8_t>(static_cast<uint64_t>(payload_len) >> (8 * i));
  return 10;
}

/// Bytes the kernel has received on TCP socket `fd` since it was opened (0 when unknown).
uint64_t socket_bytes_received(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return 0;
  if (len < offsetof(tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received) return 0;
  return ti.tcpi_bytes_received;
}

/// Makes close() reset the connection (RST) instead of queueing a FIN behind unsent data: a
/// stalled viewer's socket would otherwise sit in FIN_WAIT1 holding its send buffer, and the
/// viewer would never learn that it was dropped (nginx: reset_timedout_connection).
void reset_on_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace

ViewerSession::ViewerSession(lws* wsi, RelayState& relay, bool websocket)
    : wsi_(wsi),
      fd_(lws_get_socket_fd(wsi)),
      direct_(!lws_is_ssl(wsi)),
      relay_(relay),
      write_type_(websocket ? LWS_WRITE_BINARY : LWS_WRITE_HTTP),
      peer_(peer_address(fd_)),
      address_(address_of(peer_)) {}

ViewerSession::~ViewerSession() {
  if (sub_) relay_.hub.unsubscribe(sub_);
  relay_.periodic.erase(this);
}

std::optional<Refusal> ViewerSession::join(const std::string& name, const std::vector<std::string>& via) {
  HubError err = HubError::none;
  sub_ = relay_.hub.subscribe(name, this, now_ms(), err, &via);
  if (!sub_) {
    ++relay_.counters.viewer_refused;
    MC_LOG_LIMITED(relay_.peer_log, address_, LOG_WARN, "viewer %s: /live/%s refused: %s", peer_.c_str(),
                   name.c_str(), to_string(err));
    return refusal_of(err);
  }
  ++relay_.counters.viewer_connections;
  cap_send_buffer(fd_, relay_.config.viewer_sndbuf_bytes);
  MC_LOG_LIMITED(relay_.peer_log, address_, LOG_INFO, "viewer %s: joined %s (%s)", peer_.c_str(), name.c_str(),
                 websocket() ? "WebSocket" : "HTTP-TS");
  if (websocket()) {
    rx_socket_bytes_ = socket_bytes_received(fd_);
    relay_.periodic.insert(this);
  } else {
    head_pending_ = true;
  }
  // The hub's deadlines (publisher_wait_s, stall_timeout_s) govern this connection from now on.
  lws_set_timeout(wsi_, NO_PENDING_TIMEOUT, 0);
  lws_callback_on_writable(wsi_);
  return std::nullopt;
}

int ViewerSession::on_writable() {
  if (closing_) {
    const RefusalAnswer& a = answer(*closing_);
    if (websocket()) {
      lws_close_reason(wsi_, static_cast<lws_close_status>(a.ws_close_code),
                       reinterpret_cast<unsigned char*>(const_cast<char*>(a.phrase)), std::strlen(a.phrase));
    } else if (head_pending_) {
      lws_return_http_status(wsi_, static_cast<unsigned>(a.http_status), a.phrase);
    }
    return -1;
  }
  lws_holds_output_ = lws_partial_buffered(wsi_) != 0;
  if (lws_holds_output_) {
    lws_callback_on_writable(wsi_);
    return 0;
  }
  if (head_pending_) {
    if (!sub_) return 0;
    if (!sub_->has_data()) {
      // Nothing published yet: next() finds nothing and parks the subscriber, so the hub wakes
      // us with the first chunk (and the head goes out then).
      sub_->next(coarse_now_ms());
      return 0;
    }
    if (!send_http_head()) return -1;
    if (lws_holds_output_) {
      lws_callback_on_writable(wsi_);
      return 0;
    }
  }
  return write_ready() ? 0 : -1;
}

int ViewerSession::on_receive(size_t len) {
  const int64_t now = now_ms();
  if (now - rx_window_ms_ >= 1000) {
    rx_window_ms_ = now;
    rx_bytes_ = 0;
  }
  rx_bytes_ += len;
  if (rx_bytes_ <= kRxBudgetBytes) return 0;
  MC_LOG_LIMITED(relay_.peer_log, address_, LOG_WARN, "viewer %s: sent more than %zu bytes/s; closing (1008)",
                 peer_.c_str(), kRxBudgetBytes);
  const RefusalAnswer& a = answer(Refusal::flood);
  lws_close_reason(wsi_, static_cast<lws_close_status>(a.ws_close_code),
                   reinterpret_cast<unsigned char*>(const_cast<char*>(a.phrase)), std::strlen(a.phrase));
  return -1;
}

void ViewerSession::every_second(int64_t /*now_ms*/) {
  if (closing_ || failed_) return;
  const uint64_t total = socket_bytes_received(fd_);
  const uint64_t received = total - rx_socket_bytes_;
  rx_socket_bytes_ = total;
  // The check runs about once a second; allow for a late timer with twice the budget.
  if (received <= 2 * kRxBudgetBytes) return;
  MC_LOG_LIMITED(relay_.peer_log, address_, LOG_WARN,
                 "viewer %s: sent %llu bytes in about a second (pings or other frames; budget %zu bytes/s); "
                 "closing (1008)",
                 peer_.c_str(), static_cast<unsigned long long>(received), kRxBudgetBytes);
  // No closing handshake with a flooder: lws would go on reading its frames while it waits for the
  // close acknowledgement (seconds). The close frame goes out now when the socket is between
  // frames, then the connection is reset.
  closing_ = Refusal::flood;
  if (direct_ && !lws_holds_output_ && !lws_partial_buffered(wsi_)) {
    const RefusalAnswer& a = answer(Refusal::flood);
    const size_t n = std::min<size_t>(std::strlen(a.phrase), 123);
    uint8_t frame[4 + 123];
    frame[0] = 0x88;  // FIN + close (RFC 6455 §5.5.1)
    frame[1] = static_cast<uint8_t>(2 + n);
    frame[2] = static_cast<uint8_t>(a.ws_close_code >> 8);
    frame[3] = static_cast<uint8_t>(a.ws_close_code & 0xff);
    std::memcpy(frame + 4, a.phrase, n);
    const ssize_t sent = ::send(fd_, frame, 4 + n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent;  // best effort: the reset follows either way
  }
  reset_on_close(fd_);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void ViewerSession::wake() {
  if (lws_holds_output_ || head_pending_) {
    lws_callback_on_writable(wsi_);
    return;
  }
  if (!write_ready()) {
    // The socket failed; this is not the viewer's own callback, so close it asynchronously
    // (the hub forgets the subscriber when the connection is destroyed).
    failed_ = true;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

void ViewerSession::close(SubscriberClose why) {
  const std::string& stream = sub_ ? sub_->stream().name() : std::string();
  if (why == SubscriberClose::stalled) {
    MC_LOG_LIMITED(relay_.peer_log, address_, LOG_WARN, "viewer %s: %s: closing (%s); connection reset",
                   peer_.c_str(), stream.c_str(), to_string(why));
    reset_on_close(fd_);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  MC_LOG_LIMITED(relay_.peer_log, address_, LOG_INFO, "viewer %s: %s: closing (%s)", peer_.c_str(), stream.c_str(),
                 to_string(why));
  refuse_and_close(Refusal::no_such_stream);
}

void ViewerSession::refuse_and_close(Refusal r) {
  // The answer (close frame, or an HTTP status while no head is out) goes from the writable
  // callback; a viewer whose socket never drains is reset after 2 s.
  closing_ = r;
  lws_callback_on_writable(wsi_);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 2);
}

bool ViewerSession::send_http_head() {
  head_pending_ = false;
  unsigned char buf[LWS_PRE + 512];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  static const char kNoCache[] = "no-cache, no-store";
  static const char kAnyOrigin[] = "*";
  // The relays the data passed, ending with this one: a relay pulling from us sends it on with
  // its pushes, so loops and depth are checked along the whole tree.
  std::vector<std::string> path = sub_->stream().via;
  path.push_back(relay_.node_id);
  const std::string via = format_via(path);
  if (lws_add_http_common_headers(wsi_, HTTP_STATUS_OK, "video/mp2t", LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
      lws_add_http_header_by_name(wsi_, reinterpret_cast<const unsigned char*>("x-mpegcast-via:"),
                                  reinterpret_cast<const unsigned char*>(via.data()), static_cast<int>(via.size()), &p,
                                  end) ||
      lws_add_http_header_by_token(wsi_, WSI_TOKEN_HTTP_CACHE_CONTROL, reinterpret_cast<const unsigned char*>(kNoCache),
                                   sizeof kNoCache - 1, &p, end) ||
      lws_add_http_header_by_token(wsi_, WSI_TOKEN_HTTP_ACCESS_CONTROL_ALLOW_ORIGIN,
                                   reinterpret_cast<const unsigned char*>(kAnyOrigin), 1, &p, end) ||
      lws_finalize_write_http_header(wsi_, start, &p, end)) {
    return false;
  }
  lws_holds_output_ = lws_partial_buffered(wsi_) != 0;
  return true;
}

bool ViewerSession::write_ready() {
  // Writes ready chunks until the viewer is caught up or lws had to keep part of a write (then:
  // writable callback later). At most kMaxWritesPerCall writes, so a viewer catching up cannot
  // hog the service thread. Returns false when the socket failed.
  if (!sub_ || failed_) return !failed_;
  const int64_t now = coarse_now_ms();  // for stall detection only (compared in seconds)
  for (int i = 0; i < kMaxWritesPerCall; ++i) {
    const Chunk* c = sub_->next(now);
    if (!c) return true;  // caught up: the hub wakes us on the next chunk
    if (!send_chunk(*c)) return false;
    relay_.counters.bytes_out += c->size();
    if (lws_holds_output_) break;  // the kernel took only part: lws holds the rest
  }
  if (lws_holds_output_ || sub_->has_data()) lws_callback_on_writable(wsi_);
  return true;
}

bool ViewerSession::send_chunk(const Chunk& c) {
  // Sends one chunk (framed for WebSocket viewers). Sets lws_holds_output_ when lws keeps part
  // of it. Returns false when the socket failed.
  uint8_t* payload = c.wire_data();
  if (!direct_) {
    if (lws_write(wsi_, payload, c.size(), write_type_) < 0) return false;
    lws_holds_output_ = lws_partial_buffered(wsi_) != 0;
    relay_.counters.viewer_partial_writes += lws_holds_output_;
    return true;
  }
  uint8_t* start = websocket() ? payload - put_ws_binary_header(payload, c.size()) : payload;
  const size_t total = static_cast<size_t>(payload + c.size() - start);
  ssize_t sent = ::send(fd_, start, total, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent == static_cast<ssize_t>(total)) return true;
  if (sent < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    sent = 0;
  }
  // lws copies the rest (its send attempt meets a full buffer) and sends it on POLLOUT.
  ++relay_.counters.viewer_partial_writes;
  const size_t rest = total - static_cast<size_t>(sent);
  if (lws_write(wsi_, start + sent, rest, LWS_WRITE_RAW) < 0) return false;
  lws_holds_output_ = lws_partial_buffered(wsi_) != 0;
  return true;
}

}  // namespace mpegcast::relay
