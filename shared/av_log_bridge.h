// Routes libav* log messages into our stderr log with sd-daemon priorities.
#pragma once
#include "log.h"

namespace mpegcast {

/// Installs the av_log callback. libav messages up to warnings are kept (info and verbose too
/// when `level` is debug); messages of network protocols go to debug, because each output link
/// (a capture target, a relay's udp:// or srt:// push) logs its own failures once, naming the URL.
void install_av_log_bridge(LogLevel level);

/// While one lives, libav messages of the calling thread go to debug: for a step whose failure
/// the caller logs itself in one line (the capture agent opening a source: a camera that keeps
/// refusing must not add libav's own error line at every retry).
class AvLogToDebug {
 public:
  AvLogToDebug();
  ~AvLogToDebug();
  AvLogToDebug(const AvLogToDebug&) = delete;
  AvLogToDebug& operator=(const AvLogToDebug&) = delete;
};

}  // namespace mpegcast
