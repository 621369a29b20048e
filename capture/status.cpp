#include "status.h"

#include <cstdio>

#include "clock.h"

namespace mpegcast::capture {

StatusReporter::StatusReporter(const PipelineCounters& counters) : c_(counters), last_ms_(now_ms()) {}

std::string StatusReporter::line(int64_t now, const std::vector<AvOutputStatus>& targets) {
  const uint64_t in = c_.frames_in.load(), out = c_.frames_out.load(), bytes = c_.bytes_out.load();
  const double secs = now > last_ms_ ? static_cast<double>(now - last_ms_) / 1000.0 : 1.0;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "status: fps in %.1f out %.1f, %.0f kbit/s, frames dropped %llu (repeated %llu), source reopens %llu",
                static_cast<double>(in - last_in_) / secs, static_cast<double>(out - last_out_) / secs,
                static_cast<double>(bytes - last_bytes_) * 8.0 / 1000.0 / secs,
                static_cast<unsigned long long>(c_.frames_dropped.load()),
                static_cast<unsigned long long>(c_.frames_repeated.load()),
                static_cast<unsigned long long>(c_.source_reopens.load()));
  std::string s = buf;
  for (const AvOutputStatus& t : targets) {
    s += "; target " + t.url + " " + to_string(t.state) + ", queued " + std::to_string(t.queue.queued_ms) +
         " ms, dropped " + std::to_string(t.queue.dropped_gops) + " GOPs";
  }
  last_ms_ = now;
  last_in_ = in;
  last_out_ = out;
  last_bytes_ = bytes;
  return s;
}

}  // namespace mpegcast::capture
