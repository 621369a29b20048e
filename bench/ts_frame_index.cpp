#include "ts_frame_index.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "ts_packet.h"

namespace mpegcast::bench {
namespace {

constexpr int64_t kTsWrap = int64_t{1} << 33;
constexpr size_t kMaxFileBytes = size_t{1} << 30;  // 1 GiB: plenty for a looped test clip

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

int64_t read_timestamp(const uint8_t* p) {
  return (int64_t(p[0] >> 1) & 0x07) << 30 | int64_t(p[1]) << 22 | int64_t(p[2] >> 1) << 15 | int64_t(p[3]) << 7 |
         int64_t(p[4] >> 1);
}

/// DTS, else PTS, of a PES header at `pes` (`len` bytes available); -1 when absent.
int64_t pes_decode_time(const uint8_t* pes, size_t len) {
  if (len < 14 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1) return -1;
  const uint8_t flags = pes[7] >> 6;  // PTS_DTS_flags
  if (flags == 3 && len >= 19) return read_timestamp(pes + 14);
  if (flags >= 2) return read_timestamp(pes + 9);
  return -1;
}

}  // namespace

bool TsFrameIndex::load(const std::string& path, std::string& error) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  bytes_.clear();
  uint8_t buf[1 << 16];
  for (size_t guard = 0; guard <= kMaxFileBytes / sizeof buf; ++guard) {
    const size_t n = std::fread(buf, 1, sizeof buf, f.get());
    bytes_.insert(bytes_.end(), buf, buf + n);
    if (n < sizeof buf) break;
  }
  if (bytes_.size() > kMaxFileBytes) {
    error = path + ": larger than 1 GiB";
    return false;
  }
  const size_t packets = bytes_.size() / kTsPacketSize;
  if (packets == 0 || bytes_.size() % kTsPacketSize != 0) {
    error = path + ": not a whole number of 188-byte TS packets (" + std::to_string(bytes_.size()) + " bytes)";
    return false;
  }
  bursts_.clear();
  video_pid_ = 0xFFFF;
  int64_t last_raw = -1, unwrapped = 0;
  for (size_t i = 0; i < packets; ++i) {
    const uint8_t* p = bytes_.data() + i * kTsPacketSize;
    TsHeader h;
    if (!parse_ts_header(p, h)) {
      error = path + ": packet " + std::to_string(i) + " has no sync byte or a bad adaptation field";
      return false;
    }
    if (!h.payload_unit_start || !h.has_payload) continue;
    if (video_pid_ != 0xFFFF && h.pid != video_pid_) continue;
    const uint8_t* pes = p + h.payload_offset;
    const size_t len = kTsPacketSize - h.payload_offset;
    if (len < 4 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || (pes[3] & 0xF0) != 0xE0) continue;
    const int64_t raw = pes_decode_time(pes, len);
    if (raw < 0) continue;
    video_pid_ = h.pid;
    if (last_raw >= 0) {
      int64_t step = (raw - last_raw) % kTsWrap;
      if (step < 0) step += kTsWrap;
      if (step >= kTsWrap / 2) step -= kTsWrap;  // small backwards step (should not happen for DTS)
      unwrapped += step;
    }
    last_raw = raw;
    FrameBurst b;
    b.first_packet = bursts_.empty() ? 0 : i;
    b.due_90k = unwrapped;
    if (!bursts_.empty()) bursts_.back().packet_count = i - bursts_.back().first_packet;
    bursts_.push_back(b);
  }
  if (bursts_.empty()) {
    error = path + ": no video PES (stream_id 0xE0-0xEF) with a PTS";
    return false;
  }
  bursts_.back().packet_count = packets - bursts_.back().first_packet;
  const int64_t span = bursts_.back().due_90k;
  const int64_t frame = bursts_.size() > 1 && span > 0 ? span / static_cast<int64_t>(bursts_.size() - 1) : 3600;
  loop_duration_90k_ = span + frame;
  return true;
}

}  // namespace mpegcast::bench
