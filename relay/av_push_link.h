// A push link that libavformat carries (relay.conf `push` with udp:// or srt://): the local
// stream handed to a shared AvOutputLink (shared/av_output_link.h), whose own thread opens the
// URL, writes, drops whole GOPs when the peer cannot keep up, and reconnects with backoff.
//
// Threads: everything here runs on the relay's service thread except the output link's sender
// thread. The service thread only subscribes to the hub and pushes each chunk (a reference, no
// copy) into the output queue under its mutex; no libavformat call runs on it. The link thread
// reads nothing of the hub: the stream's PAT/PMT reach it through psi_, under psi_mu_. The API
// reads the output link's counters (atomics and a mutex); nothing needs to wake the loop.
//
// Like PushLink, the link is active while its stream is live (a publisher and data within
// max(1 s, publisher_timeout_s / 2)) and holds no connection otherwise.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "av_output_link.h"
#include "downstream_link.h"
#include "relay_config.h"
#include "stream_follower.h"

namespace mpegcast::relay {

struct RelayState;

class AvPushLink final : public DownstreamLink {
 public:
  /// `cfg` must outlive the link. Service thread.
  AvPushLink(lws_context* context, RelayState& relay, const PushConfig& cfg);
  /// Unsubscribes and stops the output link's thread (an open connect or write is interrupted at once).
  ~AvPushLink() override;
  AvPushLink(const AvPushLink&) = delete;
  AvPushLink& operator=(const AvPushLink&) = delete;

  /// Starts the link's thread (idle) and its timer; it subscribes once the stream is live.
  void start() override;
  PushLinkStats stats() const override;

 private:
  static void on_timer(lws_sorted_usec_list_t* sul);
  void tick(int64_t now_ms);
  /// Service thread: hands every chunk the hub has for this link to the output queue.
  void forward();
  void follow(int64_t now_ms);
  void stop_following(const char* why);

  struct Timer {  // standard layout, so lws_container_of() can find it from its sul
    lws_sorted_usec_list_t sul{};
    AvPushLink* self = nullptr;
  };
  Timer timer_;
  lws_context* context_;
  const PushConfig& cfg_;
  const std::string name_;  // "push cam1 to srt://…?passphrase=***"
  const int64_t idle_close_ms_;
  StreamFollower follower_;
  bool closed_by_hub_ = false;  // the hub closed the subscription: resubscribe at the next tick
  std::string refusal_logged_;  // the hub's last refusal, logged once

  AvOutputLink out_;  // last: its thread stops before the members it reads are destroyed
};

}  // namespace mpegcast::relay
