// Video encoding (libavcodec; the codec is a row of video_codec.h) with no frame held back.
#pragma once
#include <functional>

#include "capture_config.h"
#include "ff_ptr.h"
#include "video_codec.h"

namespace mpegcast::capture {

/// An open encoder of `codec`: yuv420p frames of width x height at `rate` frames/s (one
/// codec.encoder_rate() gives), time_base 1/rate (frame->pts counts frames), a keyframe every
/// out.gop_s seconds or where a frame's pict_type is AV_PICTURE_TYPE_I. The codec's row sets
/// what keeps every frame coming out at once (MPEG-1: no B-frames, AV_CODEC_FLAG_LOW_DELAY).
class Encoder {
 public:
  using PacketSink = std::function<int(AVPacket*)>;

  /// Throws std::runtime_error when the encoder cannot be opened with these settings.
  Encoder(const VideoCodec& codec, int width, int height, AVRational rate, const OutputConfig& out);

  /// Encodes `frame` (nullptr: flush) and calls `sink` for every packet produced. Returns 0,
  /// or the first negative AVERROR from the encoder or the sink.
  int encode(const AVFrame* frame, const PacketSink& sink);

  const AVCodecContext* context() const { return ctx_.get(); }
  int gop_frames() const { return ctx_->gop_size; }
  /// The libavcodec encoder's name ("mpeg1video").
  const char* name() const { return ctx_->codec->name; }

 private:
  CodecContextPtr ctx_;
  PacketPtr packet_;
};

}  // namespace mpegcast::capture
