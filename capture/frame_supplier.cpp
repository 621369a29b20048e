#include "frame_supplier.h"

#include <algorithm>

#include "clock.h"
#include "log.h"

namespace mpegcast::capture {
namespace {
constexpr int64_t kHeartbeatUs = 200000;
}

FrameSupplier::FrameSupplier(const CaptureConfig& cfg, std::unique_ptr<Source> first, std::string first_error,
                             int width, int height, AVRational rate, PipelineCounters& counters)
    : in_(cfg.input),
      name_(describe_input(cfg.input)),
      frame_us_(av_rescale(1000000, rate.den, rate.num)),
      counters_(counters),
      reader_(cfg.input, std::move(first), std::move(first_error), width, height, mailbox_, counters),
      slate_(width, height, describe_input(cfg.input)) {}

FrameSupplier::~FrameSupplier() { stop(); }

void FrameSupplier::start() {
  last_frame_us_ = now_us();
  reader_.start();
}

void FrameSupplier::stop() {
  stop_ = true;
  mailbox_.wake();
  reader_.stop();
}

void FrameSupplier::set_paused(bool paused) {
  paused_ = paused;
  reader_.set_paused(paused);
  mailbox_.wake();
}

SupplierStatus FrameSupplier::status() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  SupplierStatus s = status_;
  s.source = mailbox_.state();
  return s;
}

void FrameSupplier::slate_on(int64_t now) {
  const std::time_t since = std::time(nullptr) - static_cast<std::time_t>((now - last_frame_us_) / 1000000);
  slate_picture_ = slate_.render(since);
  next_slate_us_ = now;
  slate_on_us_ = now;
  force_key_ = true;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    status_.slate = true;
    status_.slate_since = since;
  }
  if (mailbox_.state() == SourceState::live) {
    LOG_WARN("source %s: no frame for %lld ms: the slate is on the stream", name_.c_str(),
             static_cast<long long>((now - last_frame_us_) / 1000));
  } else {
    LOG_WARN("source %s: %s: the slate is on the stream", name_.c_str(), to_string(mailbox_.state()));
  }
}

void FrameSupplier::slate_off(int64_t now) {
  slate_picture_.reset();
  force_key_ = true;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    status_.slate = false;
  }
  LOG_NOTICE("source %s: live again after %.1f s of slate", name_.c_str(), static_cast<double>(now - slate_on_us_) / 1e6);
}

FrameSupplier::Supply FrameSupplier::next(Picture& out, std::atomic<int64_t>& heartbeat_ms) {
  while (true) {
    heartbeat_ms = now_ms();
    if (stop_) return Supply::stopped;
    if (paused_) {  // nothing to encode: sleep until resumed
      was_paused_ = true;
      FramePtr stale;
      int64_t t = 0;
      mailbox_.take(now_us() + kHeartbeatUs, stale, t);
      continue;
    }
    int64_t now = now_us();
    if (was_paused_) {  // resumed: the source gets its frame timeout again before the slate
      was_paused_ = false;
      last_frame_us_ = now;
      resume_grace_until_us_ = now + in_.frame_timeout_ms * 1000;
      force_key_ = true;
    }
    // Just resumed, the source is being opened again: that is no loss (yet).
    const bool opening_after_resume = now < resume_grace_until_us_;
    const SourceState state = mailbox_.state();
    if (state == SourceState::ended) return Supply::ended;
    const bool slate = slate_picture_ != nullptr;
    // Until when to wait for a source frame: the next slate frame, or the moment the source
    // counts as lost (at once when its thread says so).
    int64_t until;
    if (slate) {
      until = next_slate_us_;
    } else if (state == SourceState::reopening && !opening_after_resume) {
      until = now;
    } else {
      until = last_frame_us_ + in_.frame_timeout_ms * 1000;
    }
    until = std::min(until, now + kHeartbeatUs);
    FramePtr frame;
    int64_t t_us = 0;
    if (mailbox_.take(until, frame, t_us)) {
      now = now_us();
      last_frame_us_ = now;
      resume_grace_until_us_ = 0;
      if (slate) slate_off(now);
      out.frame = std::move(frame);
      out.t_us = t_us;
      out.slate = false;
      out.keyframe = force_key_;
      force_key_ = false;
      return Supply::picture;
    }
    if (stop_ || paused_) continue;
    now = now_us();
    const bool lost = (mailbox_.state() == SourceState::reopening && now >= resume_grace_until_us_) ||
                      now >= last_frame_us_ + in_.frame_timeout_ms * 1000;
    if (!slate && lost) slate_on(now);
    if (slate_picture_ && now >= next_slate_us_) {
      if (now - next_slate_us_ > 1000000) next_slate_us_ = now;  // the encoder fell behind: do not catch up
      out.frame.reset(av_frame_clone(slate_picture_.get()));
      if (!out.frame) continue;
      out.t_us = next_slate_us_;
      out.slate = true;
      out.keyframe = force_key_;
      force_key_ = false;
      next_slate_us_ += frame_us_;
      ++counters_.slate_frames;
      return Supply::picture;
    }
  }
}

}  // namespace mpegcast::capture
