#include "video_codec.h"

#include "capture_config.h"
#include "frame_rate.h"

namespace mpegcast::capture {
namespace {

void configure_mpeg1(AVCodecContext& c, const OutputConfig&) {
  c.max_b_frames = 0;
  // mpeg1video holds one frame back unless low_delay is set, which MPEG-1 allows only as an
  // extension (DESIGN.md, known traps).
  c.flags |= AV_CODEC_FLAG_LOW_DELAY;
  c.strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;
}

constexpr VideoCodec kCodecs[] = {
    {"mpeg1video", AV_CODEC_ID_MPEG1VIDEO, &nearest_mpeg1_rate, &configure_mpeg1},
};

}  // namespace

const VideoCodec* find_video_codec(std::string_view name) {
  for (const VideoCodec& c : kCodecs) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> video_codec_names() {
  std::vector<std::string> names;
  for (const VideoCodec& c : kCodecs) names.emplace_back(c.name);
  return names;
}

const VideoCodec& default_video_codec() { return kCodecs[0]; }

}  // namespace mpegcast::capture
