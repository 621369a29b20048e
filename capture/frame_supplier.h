// Where the encoding thread gets its pictures: the source's newest frame while it delivers, the
// slate when it does not. Switching never blocks: the source runs on its own thread
// (SourceReader) and the encoder only waits, on a condition variable, for whichever comes first,
// a new frame or the time the next slate frame is due.
#pragma once
#include <atomic>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include "capture_config.h"
#include "frame_mailbox.h"
#include "slate.h"
#include "source_reader.h"
#include "status.h"

namespace mpegcast::capture {

/// One picture for the encoder.
struct Picture {
  FramePtr frame;         // width x height yuv420p, the encoder's to keep
  int64_t t_us = 0;       // CLOCK_MONOTONIC µs it stands for
  bool keyframe = false;  // first picture after a switch between source and slate: encode as I
  bool slate = false;
};

class FrameSupplier {
 public:
  /// `first`: the source opened at start-up, or null when that failed (`first_error`: why; the
  /// slate comes first). Pictures are width x height; the slate runs at `rate` frames/s.
  FrameSupplier(const CaptureConfig& cfg, std::unique_ptr<Source> first, std::string first_error, int width,
                int height, AVRational rate, PipelineCounters& counters);
  ~FrameSupplier();

  /// Starts the source's thread.
  void start();
  /// Any thread: next() returns stopped from now on; the source's thread is stopped and joined.
  void stop();
  /// Any thread: pause (the source is closed and next() waits without encoding anything) or
  /// resume (the source is opened again; its first frame is a keyframe). For "encode only when
  /// watched".
  void set_paused(bool paused);

  enum class Supply { picture, stopped, ended };
  /// Encoding thread: waits for the next picture. `heartbeat_ms` is updated at least every
  /// 200 ms while it waits. ended: the source ended and input.on_end = "exit".
  Supply next(Picture& out, std::atomic<int64_t>& heartbeat_ms);

  SupplierStatus status() const;

 private:
  void slate_on(int64_t now);
  void slate_off(int64_t now);

  const InputConfig in_;
  const std::string name_;
  const int64_t frame_us_;  // slate frame period
  PipelineCounters& counters_;
  FrameMailbox mailbox_;
  SourceReader reader_;
  Slate slate_;
  FramePtr slate_picture_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  bool was_paused_ = false;
  int64_t last_frame_us_ = 0;   // CLOCK_MONOTONIC µs of the last source frame (or of the start)
  int64_t next_slate_us_ = 0;   // when the next slate frame is due
  int64_t slate_on_us_ = 0;
  int64_t resume_grace_until_us_ = 0;  // after a resume: until then a source being opened is not lost
  bool force_key_ = false;
  mutable std::mutex status_mu_;
  SupplierStatus status_;
};

}  // namespace mpegcast::capture
