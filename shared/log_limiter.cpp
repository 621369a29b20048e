#include "log_limiter.h"

#include "log.h"

namespace mpegcast {
namespace {
const std::string kOtherKeys = "(others)";
}

LogLimiter::LogLimiter(size_t lines_per_key, size_t lines_total, int64_t window_ms, size_t max_keys, const char* label)
    : lines_per_key_(lines_per_key), lines_total_(lines_total), window_ms_(window_ms), max_keys_(max_keys), label_(label) {}

void LogLimiter::close_window(const std::string& key, Entry& e) {
  if (e.suppressed > 0) {
    LOG_NOTICE("%s %s: %llu similar log lines suppressed in %llds", label_, key.c_str(),
               static_cast<unsigned long long>(e.suppressed), static_cast<long long>(window_ms_ / 1000));
  }
  e = Entry{};
}

bool LogLimiter::allow(std::string_view key_view, int64_t now_ms) {
  if (now_ms - total_.window_start_ms >= window_ms_) {
    if (total_.suppressed > 0) {
      LOG_NOTICE("%llu log lines suppressed in %llds (%s lines over all keys)",
                 static_cast<unsigned long long>(total_.suppressed), static_cast<long long>(window_ms_ / 1000), label_);
    }
    total_ = Entry{};
    total_.window_start_ms = now_ms;
  }
  std::string key(key_view);
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (keys_.size() >= max_keys_) flush(now_ms);
    if (keys_.size() >= max_keys_) key = kOtherKeys;
    it = keys_.try_emplace(key).first;
    it->second.window_start_ms = now_ms;
  }
  Entry& e = it->second;
  if (now_ms - e.window_start_ms >= window_ms_) {
    close_window(key, e);
    e.window_start_ms = now_ms;
  }
  if (e.lines >= lines_per_key_ || total_.lines >= lines_total_) {
    ++e.suppressed;
    ++total_.suppressed;
    ++suppressed_total_;
    return false;
  }
  ++e.lines;
  ++total_.lines;
  return true;
}

void LogLimiter::flush(int64_t now_ms) {
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (now_ms - it->second.window_start_ms >= window_ms_) {
      close_window(it->first, it->second);
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mpegcast
