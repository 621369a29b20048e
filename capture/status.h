// Counters of the capture pipeline and the periodic status line.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "av_output_link.h"

namespace mpegcast::capture {

/// Written by the capture thread, read by the status reporter.
struct PipelineCounters {
  std::atomic<uint64_t> frames_in{0};        // decoded source frames
  std::atomic<uint64_t> frames_out{0};       // frames given to the encoder
  std::atomic<uint64_t> frames_dropped{0};   // source frames not encoded (rate mapping, errors)
  std::atomic<uint64_t> frames_repeated{0};  // extra copies encoded to keep the output rate
  std::atomic<uint64_t> bytes_out{0};        // TS bytes muxed
  std::atomic<uint64_t> source_reopens{0};
  std::atomic<uint64_t> slate_frames{0};      // slate pictures given to the encoder
  std::atomic<int64_t> source_behind_ms{0};   // how far the source is behind real time (source_timing.h)
};

/// Builds one status line per call from the change of the counters since the previous call:
/// "fps in 25.0 out 25.0, 1012 kbit/s, frames dropped 0 (repeated 0), source reopens 0;
///  target http://…/publish/cam1 connected, queued 0 ms, dropped 0 GOPs".
class StatusReporter {
 public:
  explicit StatusReporter(const PipelineCounters& counters);
  /// `now_ms`: CLOCK_MONOTONIC ms.
  std::string line(int64_t now_ms, const std::vector<AvOutputStatus>& targets);

 private:
  const PipelineCounters& c_;
  int64_t last_ms_;
  uint64_t last_in_ = 0, last_out_ = 0, last_bytes_ = 0;
};

}  // namespace mpegcast::capture
