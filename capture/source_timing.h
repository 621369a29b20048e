// When a source's frames are due (paced kinds: files, lavfi) and how far a source is behind
// real time (every kind), for the status line.
#pragma once
#include <algorithm>
#include <cstdint>

namespace mpegcast::capture {

/// Maps the timestamps (µs) of a paced source onto the wall clock so that it plays in real
/// time. A timestamp jump of more than a second back or two ahead rebases the mapping.
class Pacer {
 public:
  /// CLOCK_MONOTONIC µs at which the frame with `pts_us` is due (`now_us`: the time now).
  int64_t due_us(int64_t pts_us, int64_t now_us) {
    if (base_wall_us_ < 0) rebase(pts_us, now_us);
    int64_t due = base_wall_us_ + (pts_us - base_pts_us_);
    if (due < now_us - 1000000 || due > now_us + 2000000) {
      rebase(pts_us, now_us);
      due = now_us;
    }
    return due;
  }
  /// Forget the mapping (source reopened).
  void reset() { base_wall_us_ = -1; }

 private:
  void rebase(int64_t pts_us, int64_t now_us) {
    base_wall_us_ = now_us;
    base_pts_us_ = pts_us;
  }
  int64_t base_wall_us_ = -1;
  int64_t base_pts_us_ = 0;
};

/// How far a live source is behind: the growth of (arrival time − timestamp) over its lowest
/// value in the last 20–40 s. Data piling up in a buffer before us (a FIFO, a socket, a camera's
/// queue) makes it grow; a source that runs fast or at its rate keeps it near 0. A window, not
/// the all-time low, so that a camera clock drifting against ours is forgotten.
class LagMeter {
 public:
  static constexpr int64_t kWindowUs = 20000000;

  /// One frame with timestamp `pts_us` read at CLOCK_MONOTONIC `now_us`; returns the lag in ms.
  int64_t on_frame(int64_t pts_us, int64_t now_us) {
    const int64_t offset = now_us - pts_us;
    if (window_start_us_ < 0 || now_us - window_start_us_ >= kWindowUs) {
      previous_min_ = window_start_us_ < 0 ? offset : current_min_;
      current_min_ = offset;
      window_start_us_ = now_us;
    }
    current_min_ = std::min(current_min_, offset);
    return (offset - std::min(current_min_, previous_min_)) / 1000;
  }
  void reset() { window_start_us_ = -1; }

 private:
  int64_t window_start_us_ = -1;
  int64_t current_min_ = 0, previous_min_ = 0;
};

}  // namespace mpegcast::capture
