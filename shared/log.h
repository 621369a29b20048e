// Logging to stderr with sd-daemon priority prefixes (<3> … <7>), so journald files
// each line by priority. Thread-safe: each line is written with a single write(2).
#pragma once

namespace mpegcast {

/// Syslog priorities as used by sd-daemon(3) prefixes.
enum class LogLevel { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

/// Lines with a priority numerically above `max` are dropped. Default: info.
void set_log_level(LogLevel max);
/// Parses "err", "warning", "notice", "info", "debug"; returns false on anything else.
bool parse_log_level(const char* name, LogLevel& out);
bool log_enabled(LogLevel level);

/// printf-style; appends the newline. Lines longer than 1 KiB are cut. Control bytes (0x00–0x1f,
/// 0x7f) in the formatted text are written as `\xHH`, so one call is always one line.
void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace mpegcast

#define MC_LOG(level, ...)                                                \
  do {                                                                    \
    if (::mpegcast::log_enabled(level)) ::mpegcast::log(level, __VA_ARGS__); \
  } while (0)
#define LOG_ERR(...) MC_LOG(::mpegcast::LogLevel::err, __VA_ARGS__)
#define LOG_WARN(...) MC_LOG(::mpegcast::LogLevel::warning, __VA_ARGS__)
#define LOG_NOTICE(...) MC_LOG(::mpegcast::LogLevel::notice, __VA_ARGS__)
#define LOG_INFO(...) MC_LOG(::mpegcast::LogLevel::info, __VA_ARGS__)
#define LOG_DEBUG(...) MC_LOG(::mpegcast::LogLevel::debug, __VA_ARGS__)
