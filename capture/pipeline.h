// The encoding thread: frame supplier (source or slate) → frame-rate mapping → encoder → TS
// muxer → targets.
#pragma once
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "av_output_link.h"
#include "capture_config.h"
#include "encoder.h"
#include "frame_rate.h"
#include "frame_supplier.h"
#include "source_signal.h"
#include "status.h"
#include "ts_muxer.h"

namespace mpegcast::capture {

/// Owns the frame supplier (whose source runs on its own thread), the encoder and the muxer, and
/// encodes on one thread. Whatever the source does (fails, stalls, vanishes, ends), the encoder
/// goes on at the same size, rate and GOP with the slate, so targets and their peers keep one
/// continuous stream.
class Pipeline {
 public:
  /// `targets` receive every chunk (they must outlive the pipeline).
  Pipeline(const CaptureConfig& cfg, std::vector<AvOutputLink*> targets);
  ~Pipeline();

  /// Start-up: tries to open the source (for up to input.open_timeout_ms) to learn its size and
  /// rate, and sets up encoder and muxer. A source that does not open is logged and the stream
  /// starts with the slate (at output.width/height, else 640x480; output.framerate, else 25).
  /// Throws std::runtime_error when the encoder or muxer cannot be set up.
  void open();
  /// Starts the source's thread and the encoding thread.
  void start();
  /// Stops both threads, flushes encoder and muxer into the targets. Idempotent.
  void stop();
  /// Any thread: pause (source closed, nothing encoded, the threads asleep on condition
  /// variables) or resume. The hook for "encode only when watched".
  void set_paused(bool paused) {
    if (supplier_) supplier_->set_paused(paused);
  }

  /// The thread ended by itself (the source ended and input.on_end = "exit", or a fatal error).
  bool finished() const { return finished_; }
  /// 0 after a normal end, 1 after a fatal error.
  int exit_code() const { return exit_code_; }
  /// True once the first frame was encoded.
  bool encoding() const { return counters_.frames_out.load() > 0; }
  /// CLOCK_MONOTONIC ms of the last sign of life of the encoding thread (for the watchdog).
  int64_t heartbeat_ms() const { return heartbeat_ms_.load(); }

  const PipelineCounters& counters() const { return counters_; }
  SupplierStatus source_status() const { return supplier_ ? supplier_->status() : SupplierStatus{}; }

 private:
  void run();
  /// Maps and encodes one picture; returns a negative AVERROR on encoder failure.
  int process(Picture& picture);
  int encode_and_mux(const AVFrame* frame);
  /// Encoding thread: one TS packet saying whether the picture is live or the slate
  /// (shared/source_signal.h), sent after each keyframe chunk.
  ChunkPtr source_signal_chunk();

  const CaptureConfig cfg_;
  std::vector<AvOutputLink*> targets_;
  std::atomic<bool> finished_{false};
  bool flushed_ = false;
  std::atomic<int64_t> heartbeat_ms_{0};
  int exit_code_ = 0;
  std::thread thread_;
  PipelineCounters counters_;

  std::unique_ptr<FrameSupplier> supplier_;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<TsMuxer> muxer_;
  std::unique_ptr<FrameRateMapper> mapper_;
  int64_t start_us_ = 0;  // CLOCK_MONOTONIC µs of output time 0
  SourceSignalState signal_state_ = SourceSignalState::live;
  int64_t signal_since_s_ = 0;  // Unix time the current state began
  uint8_t signal_cc_ = 0;
};

}  // namespace mpegcast::capture
