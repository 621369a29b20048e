// Conversion of source frames to the encoder's size and yuv420p (libswscale).
#pragma once
#include "ff_ptr.h"

namespace mpegcast::capture {

/// Scales and converts frames of any size/format to width x height yuv420p.
class Scaler {
 public:
  Scaler(int width, int height) : width_(width), height_(height) {}

  /// A new frame (its own buffers, so the encoder may keep it) with `in`'s picture, or null
  /// when `in` has no usable size/format or the conversion fails. pts is not set.
  FramePtr convert(const AVFrame* in);

 private:
  int width_, height_;
  SwsPtr sws_;
  int in_w_ = 0, in_h_ = 0, in_fmt_ = -1;
};

}  // namespace mpegcast::capture
