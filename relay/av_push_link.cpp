#include "av_push_link.h"

#include <algorithm>

#include "clock.h"
#include "log.h"
#include "relay_state.h"
#include "url.h"

namespace mpegcast::relay {
namespace {
constexpr int64_t kTimerMs = 200;  // link housekeeping period, as PushLink's

AvOutputConfig output_config(const PushConfig& cfg) {
  AvOutputConfig c;  // queue, timeouts and backoff: the defaults of av_output_config.h
  c.url = cfg.url;
  c.user_agent = "mpegcast-relay";
  return c;
}
}  // namespace

AvPushLink::AvPushLink(lws_context* context, RelayState& relay, const PushConfig& cfg)
    : context_(context),
      cfg_(cfg),
      name_("push " + cfg.stream + " to " + redact_url(cfg.url)),
      idle_close_ms_(std::max<int64_t>(1000, relay.config.publisher_timeout_s * 1000 / 2)),
      follower_(
          relay.hub, cfg.stream, idle_close_ms_, [this] { forward(); },
          [this](SubscriberClose why) {
            closed_by_hub_ = true;
            LOG_WARN("%s: closed by the local hub: %s; subscribing again", name_.c_str(), to_string(why));
          }),
      out_(output_config(cfg), name_) {}

AvPushLink::~AvPushLink() {
  lws_sul_cancel(&timer_.sul);
  follower_.unsubscribe();
  out_.begin_stop(0);
  out_.join();
}

void AvPushLink::start() {
  LOG_INFO("%s: waiting for local data (%s link, libavformat)", name_.c_str(), cfg_.target.scheme.c_str());
  out_.set_active(false);
  out_.start();
  timer_.self = this;
  lws_sul_schedule(context_, 0, &timer_.sul, &AvPushLink::on_timer, kTimerMs * LWS_US_PER_MS);
}

void AvPushLink::on_timer(lws_sorted_usec_list_t* sul) {
  AvPushLink* self = lws_container_of(sul, Timer, sul)->self;
  self->tick(now_ms());
  lws_sul_schedule(self->context_, 0, &self->timer_.sul, &AvPushLink::on_timer, kTimerMs * LWS_US_PER_MS);
}

void AvPushLink::tick(int64_t now) {
  const bool live = follower_.live(now);
  if (closed_by_hub_) {
    closed_by_hub_ = false;
    follower_.unsubscribe();
  }
  if (live && !follower_.subscribed()) {
    follow(now);
  } else if (!live && follower_.subscribed()) {
    stop_following("local stream idle");
  }
}

void AvPushLink::follow(int64_t now) {
  if (std::optional<HubError> err = follower_.subscribe(now)) {
    if (refusal_logged_ != to_string(*err)) {
      refusal_logged_ = to_string(*err);
      LOG_WARN("%s: local subscription refused: %s; retrying", name_.c_str(), refusal_logged_.c_str());
    }
    return;
  }
  refusal_logged_.clear();
  out_.set_active(true);
  forward();
}

void AvPushLink::stop_following(const char* why) {
  follower_.unsubscribe();
  out_.set_active(false);
  LOG_NOTICE("%s: disconnected: %s (no publisher or no data for %lld ms); reconnects when data flows", name_.c_str(),
             why, static_cast<long long>(idle_close_ms_));
}

void AvPushLink::forward() {
  const int64_t now = now_ms();
  const ChunkPtr stream_psi = follower_.psi();
  while (ChunkPtr c = follower_.next_shared(now)) {
    // The hub's PAT/PMT prefix: it travels with the chunks instead, and the link thread writes
    // it wherever its peer needs it.
    if (c == stream_psi || c->empty()) continue;
    out_.push(std::move(c), stream_psi);
  }
}

PushLinkStats AvPushLink::stats() const {
  const AvOutputStatus st = out_.status();
  PushLinkStats s;
  s.stream = cfg_.stream;
  s.url = st.url;
  s.connected = st.state == AvOutputState::connected;
  s.bytes_out = st.bytes_sent;
  s.connects = st.connects;
  s.failures = st.failures;
  s.last_error = st.last_error;
  s.dropped_gops = st.queue.dropped_gops;
  return s;
}

}  // namespace mpegcast::relay
