#include "frame_rate.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/mathematics.h>
}

namespace mpegcast::capture {
namespace {
constexpr AVRational kLegal[] = {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {50, 1}, {60000, 1001}, {60, 1}};
}

bool is_mpeg1_rate(AVRational rate) {
  for (const AVRational& r : kLegal) {
    if (av_cmp_q(r, rate) == 0) return true;
  }
  return false;
}

AVRational nearest_mpeg1_rate(AVRational rate) {
  if (rate.num <= 0 || rate.den <= 0) return AVRational{25, 1};
  const double fps = av_q2d(rate);
  AVRational best = kLegal[0];
  double best_diff = INFINITY;
  for (const AVRational& r : kLegal) {
    const double diff = std::fabs(av_q2d(r) - fps);
    if (diff < best_diff) {
      best_diff = diff;
      best = r;
    }
  }
  return best;
}

FrameRateMapper::FrameRateMapper(AVRational out_rate, int64_t max_gap_ms)
    : rate_(out_rate), max_gap_slots_(std::max<int64_t>(1, av_rescale_q(max_gap_ms, AVRational{1, 1000}, av_inv_q(out_rate)))) {}

int FrameRateMapper::map(int64_t t_us, int64_t& first_index) {
  // Slot nearest to t: round(t * rate), in integer arithmetic.
  const int64_t idx = av_rescale_q_rnd(t_us, AVRational{1, 1000000}, av_inv_q(rate_),
                                       static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX));
  if (next_ < 0) next_ = idx;
  if (idx < next_) {
    // Slot already filled. A large jump backwards (timestamps reset) restarts the timeline.
    if (next_ - idx <= max_gap_slots_) return 0;
    first_index = next_;
    ++next_;
    return 1;
  }
  int64_t count = idx - next_ + 1;
  if (count > max_gap_slots_) {  // stalled source: do not fill seconds with repeats
    next_ = idx;
    count = 1;
  }
  first_index = next_;
  next_ = idx + 1;
  return static_cast<int>(count);
}

}  // namespace mpegcast::capture
