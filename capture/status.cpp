#include "status.h"

#include <cstdio>

#include "clock.h"

namespace mpegcast::capture {

std::string describe_source_state(const SupplierStatus& s) {
  if (!s.slate) return to_string(s.source);
  std::tm local{};
  localtime_r(&s.slate_since, &local);
  char hms[16];
  std::strftime(hms, sizeof hms, "%H:%M:%S", &local);
  return std::string("slate since ") + hms + " (" + (s.source == SourceState::live ? "no frames" : to_string(s.source)) +
         ")";
}

StatusReporter::StatusReporter(const PipelineCounters& counters) : c_(counters), last_ms_(now_ms()) {}

std::string StatusReporter::line(int64_t now, const SupplierStatus& source, const std::vector<AvOutputStatus>& targets) {
  const uint64_t in = c_.frames_in.load(), out = c_.frames_out.load(), bytes = c_.bytes_out.load();
  const double secs = now > last_ms_ ? static_cast<double>(now - last_ms_) / 1000.0 : 1.0;
  const double fps_out = static_cast<double>(out - last_out_) / secs;
  const double kbps = static_cast<double>(bytes - last_bytes_) * 8.0 / 1000.0 / secs;
  const std::string state = describe_source_state(source);
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "status: source %s, behind %lld ms; fps in %.1f out %.1f, %.0f kbit/s, frames dropped %llu "
                "(repeated %llu), slate frames %llu, source reopens %llu",
                state.c_str(), static_cast<long long>(c_.source_behind_ms.load()),
                static_cast<double>(in - last_in_) / secs, fps_out, kbps,
                static_cast<unsigned long long>(c_.frames_dropped.load()),
                static_cast<unsigned long long>(c_.frames_repeated.load()),
                static_cast<unsigned long long>(c_.slate_frames.load()),
                static_cast<unsigned long long>(c_.source_reopens.load()));
  std::string s = buf;
  std::snprintf(buf, sizeof buf, "%s, %.1f fps, %.0f kbit/s; targets:", state.c_str(), fps_out, kbps);
  notify_ = buf;
  for (size_t i = 0; i < targets.size(); ++i) {
    const AvOutputStatus& t = targets[i];
    s += "; target " + t.url + " " + to_string(t.state) + ", queued " + std::to_string(t.queue.queued_ms) +
         " ms, dropped " + std::to_string(t.queue.dropped_gops) + " GOPs, sent " + std::to_string(t.bytes_sent / 1000) +
         " kB, connects " + std::to_string(t.connects) + ", failures " + std::to_string(t.failures);
    notify_ += std::string(i ? ", " : " ") + to_string(t.state) + " (sent " + std::to_string(t.bytes_sent / 1000) +
               " kB, connects " + std::to_string(t.connects) + ", failures " + std::to_string(t.failures) + ")";
  }
  last_ms_ = now;
  last_in_ = in;
  last_out_ = out;
  last_bytes_ = bytes;
  return s;
}

}  // namespace mpegcast::capture
