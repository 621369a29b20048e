// The state of the source and of the slate, as the status line and sd_notify show it.
#pragma once
#include <ctime>

namespace mpegcast::capture {

/// What the source thread is doing.
enum class SourceState {
  opening,    // first open in progress
  live,       // open, delivering frames
  reopening,  // lost (failed, vanished, timed out): closed, reopening with backoff
  ended,      // a finite source ended and input.on_end = "exit"
  paused,     // closed on request (Pipeline::set_paused)
};
/// "opening", "live", "reopening", "ended", "paused".
const char* to_string(SourceState s);

/// What the frame supplier reports.
struct SupplierStatus {
  SourceState source = SourceState::opening;
  bool slate = false;           // the slate is on the stream
  std::time_t slate_since = 0;  // wall clock, when the source stopped delivering
};

}  // namespace mpegcast::capture
