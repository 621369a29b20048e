#include "viewer_egress.h"

#include <libwebsockets.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "api_json.h"
#include "clock.h"
#include "connection_limit.h"
#include "log.h"
#include "pss_slot.h"
#include "relay_state.h"
#include "stream_name.h"

namespace mpegcast::relay {
namespace {

static_assert(LWS_PRE <= kChunkHeadroom, "chunks need LWS_PRE bytes of headroom for lws_write");
static_assert(kChunkHeadroom >= 10, "chunks need room for a WebSocket frame header");

/// Stream name of a viewer path: "/live/<name>" (WS), "/live/<name>.ts" (HTTP-TS); "" if neither.
std::string live_stream_name(const std::string& path, bool want_ts) {
  if (path.rfind("/live/", 0) != 0) return {};
  std::string name = path.substr(6);
  const bool is_ts = name.size() > 3 && name.compare(name.size() - 3, 3, ".ts") == 0;
  if (is_ts != want_ts) return {};
  if (is_ts) name.resize(name.size() - 3);
  return valid_stream_name(name) ? name : std::string();
}

std::string request_path(lws* wsi) {
  char buf[512];
  int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

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

/// One viewer (WebSocket or HTTP-TS): a subscriber whose chunks are written straight from the
/// shared chunk (no copy, no allocation per write).
///
/// On a plain (non-TLS) connection the relay frames and sends each chunk itself: the frame header
/// goes into the chunk's headroom and one send() writes header and payload. That keeps lws's write
/// path (lws_write → lws_issue_raw, and the partial-output checks around it) off the per-viewer hot
/// path, which touches only this object, its subscriber and the kernel. When the kernel takes only
/// part of a send, the rest is handed to lws (lws_write LWS_WRITE_RAW, which copies it into the
/// connection's output buffer); lws then sends it before anything else on that connection, pongs
/// and close frames included, and calls the writable callback once it is gone. lws writes on its
/// own only control frames: a pong from its POLLOUT handler, when the socket has room for all of it
/// (so lws is left holding nothing), and a close frame when the connection ends. TLS connections
/// use lws_write for every chunk.
class ViewerSession final : public SubscriberOwner {
 public:
  ViewerSession(lws* wsi, RelayState& relay, lws_write_protocol write_type)
      : wsi_(wsi),
        fd_(lws_get_socket_fd(wsi)),
        direct_(!lws_is_ssl(wsi)),
        relay_(relay),
        write_type_(write_type),
        peer_(peer_address(fd_)) {}
  ~ViewerSession() override {
    if (sub_) relay_.hub.unsubscribe(sub_);
  }

  /// Joins `name`; returns the hub's refusal (none on success).
  HubError join(const std::string& name) {
    HubError err = HubError::none;
    sub_ = relay_.hub.subscribe(name, this, now_ms(), err);
    if (!sub_) {
      ++relay_.counters.viewer_refused;
      LOG_WARN("viewer %s: /live/%s refused: %s", peer_.c_str(), name.c_str(), to_string(err));
      return err;
    }
    ++relay_.counters.viewer_connections;
    cap_send_buffer(fd_, relay_.config.viewer_sndbuf_bytes);
    LOG_INFO("viewer %s: joined %s (%s)", peer_.c_str(), name.c_str(), websocket() ? "WebSocket" : "HTTP-TS");
    lws_callback_on_writable(wsi_);
    return err;
  }

  /// Writable callback: writes what is ready (see write_ready). Returns -1 to close.
  int on_writable() {
    lws_holds_output_ = lws_partial_buffered(wsi_) != 0;
    if (lws_holds_output_) {
      lws_callback_on_writable(wsi_);
      return 0;
    }
    return write_ready() ? 0 : -1;
  }

  /// Bytes the viewer sent us. Viewers have nothing to say: the bytes are dropped, and a viewer
  /// that sends more than kRxBudgetBytes within a second is closed. Returns -1 to close.
  int on_receive(size_t len) {
    const int64_t now = now_ms();
    if (now - rx_window_ms_ >= 1000) {
      rx_window_ms_ = now;
      rx_bytes_ = 0;
    }
    rx_bytes_ += len;
    if (rx_bytes_ <= kRxBudgetBytes) return 0;
    LOG_WARN("viewer %s: sent more than %zu bytes/s; closing", peer_.c_str(), kRxBudgetBytes);
    static const char kWhy[] = "viewer flood";
    lws_close_reason(wsi_, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                     reinterpret_cast<unsigned char*>(const_cast<char*>(kWhy)), sizeof kWhy - 1);
    return -1;
  }

  /// A new chunk for a caught-up viewer. When lws holds none of this viewer's output, the chunk
  /// is written now, from the publisher's receive callback: no writable-callback round trip
  /// (two poll changes and a callback per viewer per chunk). Otherwise it waits for writable.
  void wake() override {
    if (lws_holds_output_) {
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

  void close(const char* reason) override {
    LOG_WARN("viewer %s: %s: closing (%s)", peer_.c_str(), sub_ ? sub_->stream().name().c_str() : "?", reason);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }

 private:
  /// Writes ready chunks until the viewer is caught up or lws had to keep part of a write (then:
  /// writable callback later). At most kMaxWritesPerCall writes, so a viewer catching up cannot
  /// hog the service thread. Returns false when the socket failed.
  bool write_ready() {
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

  /// Sends one chunk (framed for WebSocket viewers). Sets lws_holds_output_ when lws keeps part
  /// of it. Returns false when the socket failed.
  bool send_chunk(const Chunk& c) {
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

  /// WebSocket frames; else HTTP-TS (the bare TS bytes).
  bool websocket() const { return write_type_ == LWS_WRITE_BINARY; }

  static constexpr int kMaxWritesPerCall = 4;
  // The fields wake() needs come first, in the object's first cache line (the hub prefetches it).
  bool failed_ = false;
  bool lws_holds_output_ = false;  // lws keeps part of an earlier write (sent on POLLOUT)
  Subscriber* sub_ = nullptr;
  lws* wsi_;
  int fd_;
  bool direct_;  // plain TCP: frame and send() ourselves (see the class comment); cached off the wsi
  RelayState& relay_;
  lws_write_protocol write_type_;
  std::string peer_;
  static constexpr size_t kRxBudgetBytes = 16 * 1024;
  int64_t rx_window_ms_ = 0;
  size_t rx_bytes_ = 0;
};

using ViewerPss = PssSlot<ViewerSession>;

/// WebSocket viewer callbacks; returns false when `reason` is not one of them.
bool ws_callback(lws* wsi, lws_callback_reasons reason, ViewerPss* pss, size_t len, int& rc) {
  rc = 0;
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      const std::string path = request_path(wsi);
      if (path == "/" || !live_stream_name(path, false).empty()) return true;
      LOG_INFO("viewer %s: WebSocket upgrade to %s refused: not /live/<stream>",
               peer_address(lws_get_socket_fd(wsi)).c_str(), path.substr(0, 80).c_str());
      lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "use ws://HOST:PORT/live/STREAM");
      rc = 1;
      return true;
    }
    case LWS_CALLBACK_ESTABLISHED: {
      RelayState& relay = relay_state(wsi);
      const std::string path = request_path(wsi);
      const std::string name = path == "/" ? relay.config.default_stream : live_stream_name(path, false);
      const HubError err = pss->make(wsi, relay, LWS_WRITE_BINARY)->join(name);
      if (err != HubError::none) {
        const char* why = to_string(err);
        lws_close_reason(wsi, err == HubError::bad_name ? LWS_CLOSE_STATUS_POLICY_VIOLATION : static_cast<lws_close_status>(1013),  // 1013 Try Again Later (RFC 6455 registry)

                         reinterpret_cast<unsigned char*>(const_cast<char*>(why)), std::strlen(why));
        rc = -1;
      }
      return true;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
      rc = pss->get() ? pss->get()->on_writable() : 0;
      return true;
    case LWS_CALLBACK_RECEIVE:
      rc = pss->get() ? pss->get()->on_receive(len) : -1;
      return true;
    case LWS_CALLBACK_CLOSED:
      pss->destroy();
      return true;
    default:
      return false;
  }
}

/// Writes a complete small response (headers + body) and ends the transaction.
int respond(lws* wsi, unsigned status, const char* content_type, const std::string& body) {
  std::string buf(LWS_PRE + 1024 + body.size(), '\0');
  auto* start = reinterpret_cast<unsigned char*>(&buf[LWS_PRE]);
  unsigned char* p = start;
  unsigned char* end = start + 1024;
  if (lws_add_http_common_headers(wsi, status, content_type, body.size(), &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, reinterpret_cast<const unsigned char*>("no-store"), 8, &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    return 1;
  }
  if (!body.empty()) {
    std::memcpy(start, body.data(), body.size());
    if (lws_write(wsi, start, body.size(), LWS_WRITE_HTTP_FINAL) != static_cast<int>(body.size())) return 1;
  }
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int start_http_ts(lws* wsi, ViewerPss* pss, const std::string& name) {
  RelayState& relay = relay_state(wsi);
  ViewerSession* s = pss->make(wsi, relay, LWS_WRITE_HTTP);
  const HubError err = s->join(name);
  if (err != HubError::none) {
    pss->destroy();
    return respond(wsi, err == HubError::bad_name ? 404 : 503, "text/plain", std::string(to_string(err)) + "\n");
  }
  unsigned char buf[LWS_PRE + 512];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  static const char kNoCache[] = "no-cache, no-store";
  static const char kAnyOrigin[] = "*";
  if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "video/mp2t", LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, reinterpret_cast<const unsigned char*>(kNoCache),
                                   sizeof kNoCache - 1, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ACCESS_CONTROL_ALLOW_ORIGIN,
                                   reinterpret_cast<const unsigned char*>(kAnyOrigin), 1, &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    return 1;
  }
  return 0;
}

/// One protocol serves the whole viewer listener: HTTP routes, static files (the "/" mount),
/// and WebSocket viewers (lws sends upgrades without a subprotocol to protocols[0]).
int viewer_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  if (int rc = 0; account_connection(wsi, reason, rc)) return rc;
  auto* pss = static_cast<ViewerPss*>(user);
  int rc = 0;
  if (pss && ws_callback(wsi, reason, pss, len, rc)) return rc;
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      RelayState& relay = relay_state(wsi);
      ++relay.counters.http_requests;
      const std::string path = request_path(wsi);
      if (path.rfind("/live/", 0) == 0) {
        const std::string name = live_stream_name(path, true);
        if (name.empty()) return respond(wsi, 404, "text/plain", "use /live/<stream>.ts or ws://…/live/<stream>\n");
        return start_http_ts(wsi, pss, name);
      }
      if (path == "/api/v1/streams" || path == "/api/v1/streams/") {
        return respond(wsi, 200, "application/json", streams_json(relay));
      }
      if (path.rfind("/api/v1/streams/", 0) == 0) {
        const std::string body = stream_json(relay, path.substr(16));
        if (body.empty()) return respond(wsi, 404, "application/json", "{\"error\":\"no such stream\"}");
        return respond(wsi, 200, "application/json", body);
      }
      if (path == "/api/v1/node") return respond(wsi, 200, "application/json", node_json(relay));
      if (path == "/metrics") return respond(wsi, 200, "text/plain; version=0.0.4", metrics_text(relay));
      if (path == "/healthz") return respond(wsi, 200, "text/plain", "ok\n");
      return respond(wsi, 404, "text/plain", "not found\n");
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return pss && pss->get() ? pss->get()->on_writable() : 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      // A static file from the "/" mount was sent: end the transaction so a kept-alive
      // connection parses its next request afresh (else lws answers it with stale headers).
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
      if (pss) pss->destroy();
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace

lws_protocols viewer_protocol(const char* name) {
  // tx_packet_size: lws caps each send at this (else at rx_buffer_size, 4 KiB here) and copies
  // the rest of a longer write into a buffer of its own, sent on the next POLLOUT: a second
  // send and a copy per viewer for every chunk over 4 KiB. Chunks are at most 1 MiB.
  return {name, viewer_callback, sizeof(ViewerPss), 4096, 0, nullptr, (1 << 20) + kChunkHeadroom};
}

}  // namespace mpegcast::relay
