// Decodes a captured MPEG-TS byte stream picture by picture, for tests that look at what a viewer
// saw (a slate, a frame number drawn into the picture) and when it arrived.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

namespace mpegcast::test {

/// Demuxes `ts` (mpegts) and decodes its first video stream; calls `on_picture` for every decoded
/// picture with the byte offset in `ts` of the packet it came from (-1 when unknown). Returns the
/// number of pictures.
int decode_pictures(const std::vector<uint8_t>& ts, const std::function<void(const AVFrame*, int64_t pos)>& on_picture);

/// Fraction (0..1) of the luma samples of `f` within `tolerance` of `y`.
double luma_fraction_near(const AVFrame* f, int y, int tolerance);

/// Records when each byte of a growing capture arrived: call note(size) after every read; at()
/// gives the arrival time (steady clock, seconds since the first note) of byte `pos`.
class ArrivalLog {
 public:
  void note(size_t total_bytes, double t_s) {
    if (sizes_.empty() || total_bytes > sizes_.back()) {
      sizes_.push_back(total_bytes);
      times_.push_back(t_s);
    }
  }
  /// Time the byte at `pos` had arrived by (-1 when unknown).
  double at(int64_t pos) const;

 private:
  std::vector<size_t> sizes_;
  std::vector<double> times_;
};

}  // namespace mpegcast::test
