// Counters of the capture pipeline, the periodic status line and the sd_notify STATUS= text.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "av_output_link.h"
#include "source_state.h"

namespace mpegcast::capture {

/// Written by the source and encoding threads, read by the status reporter.
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
/// "source live, behind 0 ms; fps in 25.0 out 25.0, 1012 kbit/s, frames dropped 0 (repeated 0),
///  slate frames 0, source reopens 0; target http://…/publish/cam1 connected, queued 0 ms,
///  dropped 0 GOPs, sent 1234 kB, connects 1, failures 0".
class StatusReporter {
 public:
  explicit StatusReporter(const PipelineCounters& counters);
  /// `now_ms`: CLOCK_MONOTONIC ms. Also prepares notify_text().
  std::string line(int64_t now_ms, const SupplierStatus& source, const std::vector<AvOutputStatus>& targets);
  /// The short form for sd_notify STATUS= (systemctl status), as of the last line(), with each
  /// target's state and counters in the order of the targets:
  /// "live, 25.0 fps, 1012 kbit/s; targets: connected (sent 1234 kB, connects 1, failures 0),
  ///  down (sent 0 kB, connects 0, failures 3)".
  const std::string& notify_text() const { return notify_; }

 private:
  const PipelineCounters& c_;
  int64_t last_ms_;
  uint64_t last_in_ = 0, last_out_ = 0, last_bytes_ = 0;
  std::string notify_;
};

/// "live", "slate since 12:03:41 (reopening)", … (local time).
std::string describe_source_state(const SupplierStatus& s);

}  // namespace mpegcast::capture
