// The capture thread: source → scaler → frame-rate mapping → MPEG-1 encoder → TS muxer → targets.
#pragma once
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "backoff.h"
#include "capture_config.h"
#include "encoder.h"
#include "frame_rate.h"
#include "scaler.h"
#include "source.h"
#include "status.h"
#include "av_output_link.h"
#include "ts_muxer.h"

namespace mpegcast::capture {

/// Owns the source, encoder and muxer and runs them on one thread. A source that fails or
/// stops delivering frames (camera unplugged) is reopened with backoff; the encoder, muxer and
/// targets carry on, so peers keep one continuous stream.
class Pipeline {
 public:
  /// `targets` receive every chunk (they must outlive the pipeline).
  Pipeline(const CaptureConfig& cfg, std::vector<AvOutputLink*> targets);
  ~Pipeline();

  /// Start-up: opens the source and sets up encoder and muxer. Throws SourceError or
  /// std::runtime_error with a message for the log.
  void open();
  /// Starts the capture thread.
  void start();
  /// Asks the thread to stop, waits for it, flushes encoder and muxer into the targets.
  /// Idempotent.
  void stop();

  /// The thread ended by itself (file end without loop, or a fatal error).
  bool finished() const { return finished_; }
  /// 0 after a normal end, 1 after a fatal error.
  int exit_code() const { return exit_code_; }
  /// True once the first frame was encoded.
  bool encoding() const { return counters_.frames_out.load() > 0; }
  /// CLOCK_MONOTONIC ms of the last sign of life of the capture thread (for the watchdog).
  int64_t heartbeat_ms() const { return heartbeat_ms_.load(); }

  const PipelineCounters& counters() const { return counters_; }

 private:
  void run();
  /// Paces, maps and encodes one source frame; returns a negative AVERROR on encoder failure.
  int process(AVFrame* frame);
  int encode_and_mux(const AVFrame* frame);
  void reopen_source();
  bool sleep_until_us(int64_t t_us);

  const CaptureConfig cfg_;
  std::vector<AvOutputLink*> targets_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  bool flushed_ = false;
  std::atomic<int64_t> heartbeat_ms_{0};
  int exit_code_ = 0;
  std::thread thread_;
  PipelineCounters counters_;

  std::unique_ptr<Source> source_;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<TsMuxer> muxer_;
  std::unique_ptr<Scaler> scaler_;
  std::unique_ptr<FrameRateMapper> mapper_;
  int64_t start_us_ = 0;        // CLOCK_MONOTONIC µs of output time 0
  int64_t pace_base_wall_us_ = -1;  // pacing of lavfi/file: wall time of pace_base_pts_us_
  int64_t pace_base_pts_us_ = 0;
  Backoff reopen_backoff_{250, 5000};  // kept across reopens: a source that dies at once backs off
  int64_t source_opened_ms_ = 0;
  uint64_t skipped_seen_ = 0;
};

}  // namespace mpegcast::capture
