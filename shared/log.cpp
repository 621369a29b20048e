#include "log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace mpegcast {
namespace {
std::atomic<int> g_max_level{static_cast<int>(LogLevel::info)};
}

void set_log_level(LogLevel max) { g_max_level.store(static_cast<int>(max)); }

bool parse_log_level(const char* name, LogLevel& out) {
  static const struct {
    const char* name;
    LogLevel level;
  } kNames[] = {{"err", LogLevel::err},       {"error", LogLevel::err},   {"warning", LogLevel::warning},
                {"notice", LogLevel::notice}, {"info", LogLevel::info},   {"debug", LogLevel::debug}};
  for (const auto& n : kNames) {
    if (std::strcmp(n.name, name) == 0) {
      out = n.level;
      return true;
    }
  }
  return false;
}

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_max_level.load(std::memory_order_relaxed); }

void log(LogLevel level, const char* fmt, ...) {
  char line[1024];
  int n = std::snprintf(line, sizeof line, "<%d>", static_cast<int>(level));
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = ::write(STDERR_FILENO, line, len);
  (void)w;
}

}  // namespace mpegcast
