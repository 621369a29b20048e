// The hub side of a push link (and of anything that forwards a local stream: a recorder, a
// snapshot worker): follows one local stream, subscribes while it is live, and tells its owner
// when there is data or when the hub wants it gone. No lws types.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stream_hub.h"

namespace mpegcast::relay {

class StreamFollower final : public SubscriberOwner {
 public:
  /// `idle_ms`: the stream counts as live while it has a publisher whose data arrived within this.
  /// `on_data` runs when a caught-up subscription has a new chunk; `on_close` when the hub closes
  /// the subscription (stalled): the owner closes its connection and unsubscribes later.
  StreamFollower(StreamHub& hub, std::string stream, int64_t idle_ms, std::function<void()> on_data,
                 std::function<void(SubscriberClose)> on_close)
      : hub_(hub), stream_(std::move(stream)), idle_ms_(idle_ms), on_data_(std::move(on_data)),
        on_close_(std::move(on_close)) {}
  ~StreamFollower() override { unsubscribe(); }
  StreamFollower(const StreamFollower&) = delete;
  StreamFollower& operator=(const StreamFollower&) = delete;

  /// True while the stream has a publisher whose data arrived within idle_ms (call it on a timer:
  /// it notices new data by the stream's newest chunk number).
  bool live(int64_t now_ms) {
    const Stream* st = hub_.find(stream_);
    if (!st) return false;
    if (st->newest_seq() != last_seq_) {
      last_seq_ = st->newest_seq();
      last_data_ms_ = now_ms;
    }
    return st->has_publisher() && now_ms - last_data_ms_ < idle_ms_;
  }

  /// Subscribes at the stream's newest keyframe (PAT/PMT first). Returns the hub's refusal or nullopt.
  std::optional<HubError> subscribe(int64_t now_ms) {
    unsubscribe();
    const Stream* st = hub_.find(stream_);
    publishers_total_ = st ? st->stats().publishers_total : 0;
    HubError err = HubError::none;
    sub_ = hub_.subscribe(stream_, this, now_ms, err);
    if (!sub_) return err;
    return std::nullopt;
  }
  void unsubscribe() {
    if (sub_) hub_.unsubscribe(sub_);
    sub_ = nullptr;
  }
  bool subscribed() const { return sub_ != nullptr; }

  /// The next chunk to send (see Subscriber::next), nullptr when caught up or not subscribed.
  const Chunk* next(int64_t now_ms) { return sub_ ? sub_->next(now_ms) : nullptr; }
  /// next() as a shared reference, for handing the chunk to another thread (see Subscriber::next_shared).
  ChunkPtr next_shared(int64_t now_ms) { return sub_ ? sub_->next_shared(now_ms) : nullptr; }
  /// The stream's current PAT + PMT (see Stream::psi), null when unknown.
  ChunkPtr psi() const {
    const Stream* st = hub_.find(stream_);
    return st ? st->psi() : nullptr;
  }
  bool has_data() const { return sub_ && sub_->has_data(); }

  /// True when another publisher took the stream since subscribe() (its path must be announced anew).
  bool publisher_changed() const {
    const Stream* st = hub_.find(stream_);
    return st && st->stats().publishers_total != publishers_total_;
  }
  /// The relays the stream's data passed (its X-Mpegcast-Via), upstream first.
  std::vector<std::string> via() const {
    const Stream* st = hub_.find(stream_);
    return st ? st->via : std::vector<std::string>();
  }
  const std::string& stream() const { return stream_; }

  // SubscriberOwner
  void wake() override { on_data_(); }
  void close(SubscriberClose why) override { on_close_(why); }
  const char* egress() const override { return "push"; }

 private:
  StreamHub& hub_;
  const std::string stream_;
  const int64_t idle_ms_;
  std::function<void()> on_data_;
  std::function<void(SubscriberClose)> on_close_;
  Subscriber* sub_ = nullptr;
  uint64_t last_seq_ = 0;
  int64_t last_data_ms_ = INT64_MIN / 2;
  uint64_t publishers_total_ = 0;
};

}  // namespace mpegcast::relay
