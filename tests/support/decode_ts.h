// Demuxes and decodes a captured MPEG-TS byte stream, to measure what a viewer would see.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mpegcast::test {

/// What libavformat + libavcodec made of a TS capture.
struct DecodeResult {
  bool opened = false;            // the mpegts demuxer accepted the data and found a video stream
  int frames_decoded = 0;         // pictures the decoder returned (including after the final flush)
  int video_packets = 0;          // video access units the demuxer produced
  int width = 0, height = 0;      // of the first decoded picture
  std::string codec;              // decoder name, e.g. "mpeg1video"
  /// Index (0-based) among the video packets of the packet the first decoded picture came from;
  /// 0 means the first video packet received was decodable. -1 when nothing decoded, -2 when the
  /// picture's timestamp matched no packet.
  int first_frame_packet_index = -1;
  double first_pts_s = 0, last_pts_s = 0;  // of decoded pictures (seconds), when timestamps exist
  int errors = 0;                 // decode calls that failed, plus pictures flagged corrupt
  int log_errors = 0;             // error lines FFmpeg logged (e.g. pictures before a sequence header)
  std::string error_text;         // the first few distinct error messages, for BOOST_TEST messages
  size_t ts_packets = 0;          // input bytes / 188

  /// Seconds between the first and the last decoded picture's timestamps, plus one frame at `fps`.
  double pts_span_s(double fps) const { return frames_decoded ? last_pts_s - first_pts_s + 1.0 / fps : 0.0; }
  /// One line for test messages.
  std::string summary() const;
};

/// Demuxes `ts` as MPEG-TS through a custom read AVIOContext over memory and decodes its first
/// video stream. Never throws; problems show in `opened`, `errors` and `error_text`.
DecodeResult decode_ts(const std::vector<uint8_t>& ts);

}  // namespace mpegcast::test
