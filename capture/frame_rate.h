// MPEG-1 frame rates (ISO/IEC 11172-2 §2.4.3.2, frame_rate_code 1..8) and the mapping of any
// input rate onto them by dropping or duplicating frames by timestamp.
#pragma once
#include <cstdint>

extern "C" {
#include <libavutil/rational.h>
}

namespace mpegcast::capture {

/// The legal MPEG-1 rate nearest to `rate` (frames/s): 24000/1001, 24, 25, 30000/1001, 30,
/// 50, 60000/1001 or 60. A rate within 0.01 fps of a legal one maps to it exactly; an invalid
/// rate (<= 0, 0/0) maps to 25.
AVRational nearest_mpeg1_rate(AVRational rate);

/// True when `rate` is exactly one of the eight legal MPEG-1 rates.
bool is_mpeg1_rate(AVRational rate);

/// Decides, for frames arriving at times t (µs), which output frame slots n (time n / rate)
/// each one fills, like FFmpeg's fps filter: a frame is dropped when its slot is already
/// filled, and repeated when slots were skipped. Output indices are strictly increasing.
class FrameRateMapper {
 public:
  /// `out_rate` in frames/s. A gap longer than `max_gap_ms` (source stalled) is not filled
  /// with repeats: the output simply jumps ahead.
  explicit FrameRateMapper(AVRational out_rate, int64_t max_gap_ms = 1000);

  /// For a frame at `t_us`: returns how many output frames it becomes (0 = drop it) and sets
  /// `first_index` to the slot of the first of them (the others follow one by one).
  int map(int64_t t_us, int64_t& first_index);

  /// The slot the next emitted frame will at least have.
  int64_t next_index() const { return next_; }
  AVRational rate() const { return rate_; }

 private:
  AVRational rate_;
  int64_t max_gap_slots_;
  int64_t next_ = -1;
};

}  // namespace mpegcast::capture
