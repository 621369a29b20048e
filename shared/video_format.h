// The format of a video elementary stream as the relay reports it (codec, size, frame rate),
// read from the headers a keyframe carries: the MPEG-1/2 sequence header or the H.264 SPS. No
// decoding; bounded work per keyframe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mpegcast {

struct VideoFormat {
  std::string codec;   // "mpeg1video", "mpeg2video", "h264", "hevc"
  int width = 0;       // pixels (after H.264 cropping)
  int height = 0;
  double fps = 0;      // frames per second; 0 when the headers do not say
};

/// Parses the first sequence header (MPEG-1/2, ISO/IEC 11172-2 §2.4.2.3 and 13818-2 §6.2.2.1)
/// or SPS (H.264, ISO/IEC 14496-10 §7.3.2.1.1, frame rate from the VUI timing of Annex E.1.1)
/// found in `es` (elementary stream bytes with start codes). `stream_type` is the PMT's (0x01,
/// 0x02, 0x1B; 0x02 is MPEG-1 unless a sequence_extension follows); other types give nullopt. nullopt also when no complete header is in `es`.
std::optional<VideoFormat> parse_video_format(uint8_t stream_type, const uint8_t* es, size_t len);

/// The format from a chunk of TS packets that starts a GOP: gathers the first PES payload bytes
/// (up to 4 KiB) of `video_pid` and parses them (see parse_video_format).
std::optional<VideoFormat> video_format_of_ts(const uint8_t* ts, size_t len, uint16_t video_pid, uint8_t stream_type);

/// The codec name of a PMT stream_type ("mpeg1video", "h264", "mp2", "aac", …; "" when unknown).
const char* codec_name(uint8_t stream_type);

}  // namespace mpegcast
