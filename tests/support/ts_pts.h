// The newest video PTS in a growing TS capture: how far a viewer's picture is behind another's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace mpegcast::test {

/// Scans a viewer's received bytes (whole TS packets from offset 0, as WsClient::data() and
/// HttpStreamReader::body() hold them) for video PES headers (stream_id 0xE0..0xEF) and keeps the
/// newest PTS. Call update() as the capture grows; it reads only what is new.
class VideoPtsTracker {
 public:
  void update(const std::vector<uint8_t>& ts);
  /// The newest video PTS in seconds (90 kHz clock), if one was seen.
  std::optional<double> last_pts_s() const { return last_pts_ ? std::optional<double>(*last_pts_ / 90000.0) : std::nullopt; }

 private:
  size_t scanned_ = 0;
  std::optional<int64_t> last_pts_;
};

}  // namespace mpegcast::test
