#include "frame_mailbox.h"

#include <chrono>

#include "clock.h"

namespace mpegcast::capture {

const char* to_string(SourceState s) {
  switch (s) {
    case SourceState::opening: return "opening";
    case SourceState::live: return "live";
    case SourceState::reopening: return "reopening";
    case SourceState::ended: return "ended";
    case SourceState::paused: return "paused";
  }
  return "?";
}

bool FrameMailbox::post(FramePtr picture, int64_t t_us) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool replaced = picture_ != nullptr;
  picture_ = std::move(picture);
  t_us_ = t_us;
  ++events_;
  cv_.notify_all();
  return replaced;
}

void FrameMailbox::set_state(SourceState s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == s) return;
  state_ = s;
  ++events_;
  cv_.notify_all();
}

SourceState FrameMailbox::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void FrameMailbox::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  ++events_;
  cv_.notify_all();
}

bool FrameMailbox::take(int64_t until_us, FramePtr& picture, int64_t& t_us) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t seen = events_;
  const int64_t wait_us = until_us - now_us();
  if (!picture_ && wait_us > 0) {
    cv_.wait_for(lock, std::chrono::microseconds(wait_us), [&] { return events_ != seen; });
  }
  if (!picture_) return false;
  picture = std::move(picture_);
  t_us = t_us_;
  return true;
}

}  // namespace mpegcast::capture
