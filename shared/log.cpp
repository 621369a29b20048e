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
  // Peers put bytes into log lines (paths, headers, URL-decoded values): control bytes become
  // \xHH, so a line stays one line and cannot drive the operator's terminal (ESC sequences).
  char out[sizeof line * 4];
  size_t o = 0;
  for (size_t i = 0; i < len; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = kHex[c >> 4];
      out[o++] = kHex[c & 15];
    } else {
      out[o++] = static_cast<char>(c);
    }
  }
  out[o++] = '\n';
  ssize_t w = ::write(STDERR_FILENO, out, o);
  (void)w;
}

}  // namespace mpegcast
