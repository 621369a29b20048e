// MPEG-1 video encoding (libavcodec mpeg1video) with no frame held back.
#pragma once
#include <functional>

#include "capture_config.h"
#include "ff_ptr.h"

namespace mpegcast::capture {

/// An open mpeg1video encoder: yuv420p frames of width x height at `rate` frames/s (a legal
/// MPEG-1 rate), time_base 1/rate (frame->pts counts frames). No B-frames; low-delay mode
/// (AV_CODEC_FLAG_LOW_DELAY with relaxed compliance) so every frame sent comes out at once.
class Encoder {
 public:
  using PacketSink = std::function<int(AVPacket*)>;

  /// Throws std::runtime_error when the encoder cannot be opened with these settings.
  Encoder(int width, int height, AVRational rate, const OutputConfig& out);

  /// Encodes `frame` (nullptr: flush) and calls `sink` for every packet produced. Returns 0,
  /// or the first negative AVERROR from the encoder or the sink.
  int encode(const AVFrame* frame, const PacketSink& sink);

  const AVCodecContext* context() const { return ctx_.get(); }
  int gop_frames() const { return ctx_->gop_size; }

 private:
  CodecContextPtr ctx_;
  PacketPtr packet_;
};

}  // namespace mpegcast::capture
