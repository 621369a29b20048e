// The encodings the capture agent can produce: one table row per codec, with its libavcodec
// encoder, its frame-rate rule and its low-delay settings. MPEG-1 today; H.264 is one more row.
#pragma once
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace mpegcast::capture {

struct OutputConfig;

/// One row of the codec table.
struct VideoCodec {
  std::string_view name;  // capture.conf `output.codec`, e.g. "mpeg1video"
  AVCodecID id;
  /// The rate (frames/s) the encoder runs at when `wanted` is asked for (0/1 = unknown): the
  /// nearest legal rate for codecs with a fixed list (MPEG-1), else `wanted` (25 when unknown).
  AVRational (*encoder_rate)(AVRational wanted);
  /// What the codec needs beyond the common settings (size, rate, bit rate, GOP): no B-frames,
  /// no frame held back, headers on every keyframe.
  void (*configure)(AVCodecContext& c, const OutputConfig& out);
};

/// The row named `name`, or nullptr.
const VideoCodec* find_video_codec(std::string_view name);
/// The names of every row, in table order (for config validation).
std::vector<std::string> video_codec_names();
/// The row of OutputConfig's default codec (MPEG-1).
const VideoCodec& default_video_codec();

}  // namespace mpegcast::capture
