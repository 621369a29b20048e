// A TS file cut into per-video-frame bursts with their due times, for real-time replay.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mpegcast::bench {

/// One burst: the TS packets from one video PES start up to (not including) the next one.
struct FrameBurst {
  size_t first_packet = 0;  // index of the first 188-byte packet in the file
  size_t packet_count = 0;
  int64_t due_90k = 0;      // DTS (or PTS) of the PES, 90 kHz ticks after the first burst's
};

/// A TS file in memory, cut into FrameBursts.
///
/// Burst k covers the packets from video PES start k (PUSI on the video PID, stream_id
/// 0xE0–0xEF, ISO/IEC 13818-1 §2.4.3.7) up to video PES start k+1; burst 0 also takes the packets in
/// front of the first PES (PAT/PMT), the last burst runs to the end of the file. The video PID
/// is the first PID that carries a video PES with a PTS. Timestamps are unwrapped (33 bits).
class TsFrameIndex {
 public:
  /// Loads and indexes `path`. Returns false with `error` set when the file cannot be read, is
  /// not aligned 188-byte TS packets, or has no video PES with a PTS.
  bool load(const std::string& path, std::string& error);

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  const std::vector<FrameBurst>& bursts() const { return bursts_; }
  /// Length of one pass through the file in 90 kHz ticks: last due time + one frame duration
  /// (the mean DTS step), so the next loop's first frame follows at the usual spacing.
  int64_t loop_duration_90k() const { return loop_duration_90k_; }
  uint16_t video_pid() const { return video_pid_; }
  size_t packet_count() const { return bytes_.size() / 188; }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<FrameBurst> bursts_;
  int64_t loop_duration_90k_ = 0;
  uint16_t video_pid_ = 0xFFFF;
};

}  // namespace mpegcast::bench
