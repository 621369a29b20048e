// The hand-over between the source's thread and the encoding thread: one slot holding the
// newest picture, plus the source's state. The source thread never waits on the encoder, and the
// encoder never waits on the source for longer than it chooses.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "ff_ptr.h"
#include "source_state.h"

namespace mpegcast::capture {

/// One-slot mailbox, newest wins. Thread-safe.
class FrameMailbox {
 public:
  /// Source thread: a picture standing for CLOCK_MONOTONIC time `t_us`. Returns true when it
  /// replaced one the encoder had not taken (a dropped frame).
  bool post(FramePtr picture, int64_t t_us);
  /// Source thread: its state changed (wakes the encoder).
  void set_state(SourceState s);
  SourceState state() const;

  /// Encoding thread: waits until a picture is posted, the state changes, wake() is called or
  /// CLOCK_MONOTONIC µs `until_us` passes. Returns true with the picture when there is one.
  bool take(int64_t until_us, FramePtr& picture, int64_t& t_us);
  /// Any thread: ends a take() early (stop, pause).
  void wake();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  FramePtr picture_;
  int64_t t_us_ = 0;
  SourceState state_ = SourceState::opening;
  uint64_t events_ = 0;  // bumped by every post, set_state and wake
};

}  // namespace mpegcast::capture
