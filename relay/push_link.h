// A downstream push link (relay.conf `push`): a local stream written to another relay or any TS
// receiver. Three parts: a StreamFollower (the hub side), an OutboundConnection (resolve, connect,
// back off, log once) and the scheme's PushWire (how bytes go on the wire). The link connects
// while its stream is live (a publisher and data within max(1 s, publisher_timeout_s / 2)),
// starting at the newest keyframe with PAT/PMT, disconnects that long after the data stops, and
// reconnects (to announce the new X-Mpegcast-Via path) when another publisher takes the stream.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <memory>
#include <string>

#include "downstream_link.h"
#include "outbound_connection.h"
#include "push_wire.h"
#include "relay_config.h"
#include "stream_follower.h"

namespace mpegcast::relay {

struct RelayState;

class PushLink final : public DownstreamLink, public ConnectionOwner {
 public:
  /// `vhost`: the links' client vhost. `cfg` must outlive the link.
  PushLink(lws_context* context, lws_vhost* vhost, RelayState& relay, const PushConfig& cfg);
  ~PushLink() override;
  PushLink(const PushLink&) = delete;
  PushLink& operator=(const PushLink&) = delete;

  /// Starts the link's timer; it connects once its stream is live.
  void start() override;
  PushLinkStats stats() const override;

  // ConnectionOwner
  bool on_up() override;
  int on_writable() override;
  int on_rx(const uint8_t* data, size_t len) override;
  void on_down(bool failed) override;
  std::string handshake_headers() override;
  std::string close_reason() override { return wire_->close_reason(); }

 private:
  enum class Closing { no, idle, reconnect };
  static void on_timer(lws_sorted_usec_list_t* sul);
  void tick(int64_t now_ms);
  std::string via_value() const;

  struct Timer {  // standard layout, so lws_container_of() can find it from its sul
    lws_sorted_usec_list_t sul{};
    PushLink* self = nullptr;
  };
  Timer timer_;
  lws_context* context_;
  RelayState& relay_;
  const PushConfig& cfg_;
  const bool carries_via_;
  const std::string name_;  // "push cam1 to http://…?secret=***"
  const int64_t idle_close_ms_;
  StreamFollower follower_;
  std::unique_ptr<PushWire> wire_;
  OutboundConnection conn_;
  Closing closing_ = Closing::no;
  uint64_t bytes_out_ = 0;
};

}  // namespace mpegcast::relay
