#include "scaler.h"

namespace mpegcast::capture {

FramePtr Scaler::convert(const AVFrame* in) {
  if (in->width <= 0 || in->height <= 0 || in->format < 0) return nullptr;
  if (!sws_ || in->width != in_w_ || in->height != in_h_ || in->format != in_fmt_) {
    sws_.reset(sws_getContext(in->width, in->height, static_cast<AVPixelFormat>(in->format), width_, height_,
                              AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws_) return nullptr;
    in_w_ = in->width;
    in_h_ = in->height;
    in_fmt_ = in->format;
  }
  FramePtr out = make_frame();
  if (!out) return nullptr;
  out->width = width_;
  out->height = height_;
  out->format = AV_PIX_FMT_YUV420P;
  if (av_frame_get_buffer(out.get(), 0) < 0) return nullptr;
  if (sws_scale(sws_.get(), in->data, in->linesize, 0, in->height, out->data, out->linesize) <= 0) return nullptr;
  return out;
}

}  // namespace mpegcast::capture
