#include "av_log_bridge.h"

#include <cstdarg>
#include <cstring>

#include "url.h"

extern "C" {
#include <libavutil/log.h>
}

namespace mpegcast {
namespace {

thread_local int t_to_debug = 0;  // AvLogToDebug objects alive on this thread

bool is_network(void* avcl) {
  if (!avcl) return false;
  const AVClass* c = *static_cast<const AVClass**>(avcl);
  if (!c) return false;
  const char* n = c->class_name;
  return n && (std::strcmp(n, "URLContext") == 0 || std::strcmp(n, "tcp") == 0 || std::strcmp(n, "http") == 0 ||
               std::strcmp(n, "udp") == 0 || std::strcmp(n, "libsrt") == 0 || std::strcmp(n, "AVIOContext") == 0);
}

void callback(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > av_log_get_level()) return;
  thread_local int print_prefix = 1;
  char line[1024];
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
  size_t len = std::strlen(line);
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
  if (len == 0) return;
  LogLevel ours = level <= AV_LOG_ERROR ? LogLevel::err : level <= AV_LOG_WARNING ? LogLevel::warning
                  : level <= AV_LOG_INFO ? LogLevel::info : LogLevel::debug;
  if (is_network(avcl) || t_to_debug > 0) ours = LogLevel::debug;
  if (!log_enabled(ours)) return;
  // libavformat names URLs in some of its lines: never a camera's or a peer's password.
  log(ours, "libav: %s", std::strstr(line, "://") ? redact_urls_in_text(line).c_str() : line);
}

}  // namespace

AvLogToDebug::AvLogToDebug() { ++t_to_debug; }
AvLogToDebug::~AvLogToDebug() { --t_to_debug; }

void install_av_log_bridge(LogLevel level) {
  av_log_set_level(level == LogLevel::debug ? AV_LOG_VERBOSE : AV_LOG_WARNING);
  av_log_set_callback(&callback);
}

}  // namespace mpegcast
