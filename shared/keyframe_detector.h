// Finds PAT, PMT and keyframe starts in a TS, packet by packet, without decoding video.
#pragma once
#include <cstdint>

#include "ts_packet.h"

namespace mpegcast {

/// What one TS packet is, as far as the relay cares.
struct TsPacketKind {
  bool valid = false;     // header parsed
  bool pat = false;       // PID 0 with a section start
  bool pmt = false;       // the PMT PID named by the last PAT
  bool keyframe = false;  // first packet of a video access unit that starts a GOP
  uint16_t pid = 0;
  uint8_t continuity_counter = 0;
  bool has_payload = false;
};

/// Tracks PAT → PMT → video PID and classifies packets.
///
/// A keyframe is a video PES start (PUSI on the video PID) whose adaptation field has
/// random_access_indicator = 1 (ISO/IEC 13818-1 §2.4.3.5), or whose payload holds an MPEG-1/2
/// sequence header (00 00 01 B3) or I-picture header (ISO/IEC 11172-2 §2.4.2.5), or an H.264
/// IDR slice / SPS NAL unit (ISO/IEC 14496-10 §7.4.1). Before a PMT has been seen, any PES with
/// a video stream_id (0xE0–0xEF) counts as video.
class KeyframeDetector {
 public:
  /// Classifies one 188-byte packet and updates PAT/PMT state.
  TsPacketKind inspect(const uint8_t* packet);

  uint16_t pmt_pid() const { return pmt_pid_; }
  uint16_t video_pid() const { return video_pid_; }
  /// stream_type of the video ES from the PMT (0x01 MPEG-1, 0x02 MPEG-2, 0x1B H.264, 0x24 HEVC), 0 if unknown.
  uint8_t video_stream_type() const { return video_stream_type_; }
  /// stream_type of the first audio ES in the PMT (0x03/0x04 MPEG audio, 0x0F AAC, 0x11 LATM, 0x81 AC-3), 0 if none.
  uint8_t audio_stream_type() const { return audio_stream_type_; }
  void reset() { *this = KeyframeDetector(); }

 private:
  void parse_pat(const uint8_t* section, size_t len);
  void parse_pmt(const uint8_t* section, size_t len);
  bool payload_starts_gop(const uint8_t* payload, size_t len) const;

  static constexpr uint16_t kNoPid = 0xFFFF;
  uint16_t pmt_pid_ = kNoPid;
  uint16_t video_pid_ = kNoPid;
  uint8_t video_stream_type_ = 0;
  uint8_t audio_stream_type_ = 0;
};

}  // namespace mpegcast
