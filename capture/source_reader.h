// The source's own thread: opens the source, reads and decodes it, paces it (paced kinds),
// scales every picture to the output size and posts it to a FrameMailbox; when the source fails,
// stalls, vanishes or ends, closes it and reopens it with backoff. The encoding thread never
// waits on any of this.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "backoff.h"
#include "capture_config.h"
#include "frame_mailbox.h"
#include "scaler.h"
#include "source.h"
#include "source_timing.h"
#include "status.h"

namespace mpegcast::capture {

class SourceReader {
 public:
  /// `first`: the source already opened at start-up, or null (the thread opens it; `first_error`
  /// is why the start-up open failed, already logged). Pictures are scaled to width x height
  /// yuv420p. `mailbox` and `counters` must outlive the reader.
  SourceReader(const InputConfig& in, std::unique_ptr<Source> first, std::string first_error, int width, int height,
               FrameMailbox& mailbox, PipelineCounters& counters);
  ~SourceReader();
  SourceReader(const SourceReader&) = delete;
  SourceReader& operator=(const SourceReader&) = delete;

  void start();
  /// Any thread: interrupts whatever the thread waits on and joins it. Idempotent.
  void stop();
  /// Any thread: paused, the source is closed (within the frame/open timeout at worst) and the
  /// thread sleeps on a condition variable; resumed, it opens the source at once.
  void set_paused(bool paused);

 private:
  void run();
  /// Opens the source after the backoff delay; false when stopped or paused meanwhile.
  bool reopen();
  /// Reads until the source is lost or ends, or the thread is stopped or paused.
  void read_until_lost();
  /// Paces, scales and posts one decoded frame.
  void deliver(AVFrame* frame);
  /// Sleeps until CLOCK_MONOTONIC µs `t_us`; false when stopped or paused meanwhile.
  bool sleep_until_us(int64_t t_us);
  void lost(const std::string& why);
  bool interrupted() const { return interrupt_.load(); }

  const InputConfig in_;
  const std::string name_;
  const int width_, height_;
  FrameMailbox& mailbox_;
  PipelineCounters& counters_;
  std::unique_ptr<Source> source_;
  Scaler scaler_;
  Pacer pacer_;
  LagMeter lag_;
  Backoff backoff_;
  int64_t opened_ms_ = 0;
  int64_t retry_delay_ms_ = 0;  // before the next open
  uint64_t skipped_seen_ = 0;
  int last_width_ = 0, last_height_ = 0;
  std::string last_error_;  // the last open failure logged at warning level (repeats go to debug)

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, paused_ = false;     // under mu_
  std::atomic<bool> interrupt_{false};     // stop_ || paused_: aborts the source's blocking calls
};

}  // namespace mpegcast::capture
