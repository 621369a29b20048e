// One viewer on the public listener (a WebSocket viewer of /live/<stream>, or an HTTP-TS viewer
// of /live/<stream>.ts): a hub subscriber whose chunks are written straight from the shared
// chunk, with no copy and no allocation per write.
//
// Life of a chunk (plain TCP): the publisher's receive callback feeds the hub, the hub wakes every
// caught-up subscriber (SubscriberOwner::wake), and wake() sends the chunk at once with one send()
// of our own, on the publisher's stack: the WebSocket frame header goes into the chunk's headroom.
// That saves a writable round trip per viewer per chunk and keeps lws's write path off the
// per-viewer hot path. When the kernel takes only part of a send, the rest goes to lws
// (lws_write LWS_WRITE_RAW copies it), which sends it on POLLOUT before anything else on that
// connection (pongs and close frames included) and then calls the writable callback, where
// writing resumes. lws writes on its own only control frames and the close frame. TLS
// connections write every chunk with lws_write.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "refusal.h"
#include "relay_state.h"
#include "stream_hub.h"

namespace mpegcast::relay {

/// A viewer connection. Lives in lws per-session storage (PssSlot); every method runs on the
/// service thread.
class ViewerSession final : public SubscriberOwner, public PeriodicTask {
 public:
  /// `websocket`: WebSocket frames; else HTTP-TS (bare TS bytes after a video/mp2t head).
  ViewerSession(lws* wsi, RelayState& relay, bool websocket);
  ~ViewerSession() override;
  ViewerSession(const ViewerSession&) = delete;
  ViewerSession& operator=(const ViewerSession&) = delete;

  /// Joins stream `name`. Returns the refusal (too many viewers, stream full, too many streams,
  /// bad name) or nullopt. An HTTP-TS viewer's 200 head goes out with its first chunk; until a
  /// publisher sends one, nothing is written (a stream that never gets one: 404 after
  /// publisher_wait_s).
  /// `via`: the relays a downstream pull passed (its X-Mpegcast-Via), handed to the hub as the
  /// stream's demand path.
  std::optional<Refusal> join(const std::string& name, const std::vector<std::string>& via = {});

  /// Writable callback. Returns -1 to close.
  int on_writable();

  /// A WebSocket data frame (or fragment) of `len` payload bytes from the viewer. Viewers have
  /// nothing to say: the bytes are dropped, and more than kRxBudgetBytes per second closes the
  /// viewer (1008). Returns -1 to close.
  int on_receive(size_t len);

  // SubscriberOwner (see stream_hub.h)
  void wake() override;
  void close(SubscriberClose why) override;
  const char* egress() const override { return websocket() ? "websocket" : "http-ts"; }

  // PeriodicTask: the receive budget counts every byte the socket received (TCP_INFO), so control
  // frames that lws answers without telling us (a ping flood) count too.
  void every_second(int64_t now_ms) override;

 private:
  bool write_ready();
  bool send_chunk(const Chunk& c);
  bool send_http_head();
  void refuse_and_close(Refusal r);
  bool websocket() const { return write_type_ == LWS_WRITE_BINARY; }

  static constexpr int kMaxWritesPerCall = 4;
  static constexpr size_t kRxBudgetBytes = 16 * 1024;  // per second, data and control frames

  // The fields wake() needs come first, in the object's first cache line (the hub prefetches it).
  bool failed_ = false;
  bool lws_holds_output_ = false;  // lws keeps part of an earlier write (sent on POLLOUT)
  bool head_pending_ = false;      // HTTP-TS: the 200 head is not out yet (no data so far)
  Subscriber* sub_ = nullptr;
  lws* wsi_;
  int fd_;
  bool direct_;  // plain TCP: frame and send() ourselves (see the file comment); cached off the wsi
  RelayState& relay_;
  lws_write_protocol write_type_;
  std::string peer_, address_;
  std::optional<Refusal> closing_;  // close with this answer from the writable callback
  int64_t rx_window_ms_ = 0;
  size_t rx_bytes_ = 0;             // WebSocket payload bytes in the current second
  uint64_t rx_socket_bytes_ = 0;    // TCP_INFO bytes received at the last check
};

}  // namespace mpegcast::relay
