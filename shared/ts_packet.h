// MPEG transport stream packets (ISO/IEC 13818-1 §2.4.3.2 and §2.4.3.4) and byte-stream
// re-alignment to 188-byte packets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mpegcast {

constexpr size_t kTsPacketSize = 188;
constexpr uint8_t kTsSyncByte = 0x47;
constexpr uint16_t kPidPat = 0x0000;
constexpr uint16_t kPidNull = 0x1FFF;

/// The fields of one TS packet header (ISO/IEC 13818-1 §2.4.3.2) and of the adaptation field
/// flags we use (§2.4.3.4).
struct TsHeader {
  uint16_t pid = 0;
  bool transport_error = false;
  bool payload_unit_start = false;  // PUSI
  uint8_t continuity_counter = 0;
  bool has_adaptation_field = false;
  bool has_payload = false;
  bool random_access = false;  // random_access_indicator in the adaptation field
  bool discontinuity = false;  // discontinuity_indicator
  uint8_t payload_offset = 4;  // offset of the payload in the 188 bytes (valid when has_payload)
};

/// Parses the 188 bytes at `packet`. Returns false when the sync byte is wrong or the
/// adaptation_field_length points past the packet; `out` is then unspecified.
bool parse_ts_header(const uint8_t* packet, TsHeader& out);

/// Re-aligns an arbitrary byte stream to whole TS packets.
///
/// Sync is (re)acquired on a 0x47 byte that is followed by another 0x47 exactly 188 bytes later,
/// so a stray 0x47 in garbage does not fake sync. In sync, a packet is accepted on its own sync
/// byte (no look-ahead, so no packet is held back waiting for the next read): garbage that
/// happens to begin with 0x47 exactly at a packet boundary passes as one bad packet before
/// sync is lost and regained. Bytes skipped while searching are counted.
/// Holds at most 2 * 188 - 1 bytes between calls.
class TsAligner {
 public:
  /// Feeds `len` bytes; calls `sink(const uint8_t* packets, size_t count)` for each run of
  /// `count` contiguous aligned packets (pointers valid only during the call).
  template <class Sink>
  void feed(const uint8_t* data, size_t len, Sink&& sink) {
    buf_.insert(buf_.end(), data, data + len);
    size_t pos = 0, run = 0;
    const size_t n = buf_.size();
    const uint8_t* b = buf_.data();
    while (true) {
      if (synced_) {
        if (n - pos < kTsPacketSize) break;
        if (b[pos] == kTsSyncByte) {
          if (run == 0) run_start_ = pos;
          ++run;
          pos += kTsPacketSize;
          continue;
        }
        synced_ = false;
        ++sync_losses_;
      }
      if (run) {
        sink(b + run_start_, run);
        packets_ += run;
        run = 0;
      }
      size_t i = pos;
      bool wait_for_more = false;
      for (; i < n; ++i) {
        if (b[i] != kTsSyncByte) continue;
        if (i + kTsPacketSize >= n) {
          wait_for_more = true;
          break;
        }
        if (b[i + kTsPacketSize] == kTsSyncByte) break;
      }
      discarded_bytes_ += i - pos;
      pos = i;
      if (i >= n || wait_for_more) break;
      synced_ = true;
    }
    if (run) {
      sink(b + run_start_, run);
      packets_ += run;
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos));
  }

  /// Forgets partial data and sync state (e.g. when a new publisher starts).
  void reset() {
    buf_.clear();
    synced_ = false;
  }
  uint64_t packets() const { return packets_; }
  uint64_t discarded_bytes() const { return discarded_bytes_; }
  uint64_t sync_losses() const { return sync_losses_; }
  bool synced() const { return synced_; }

 private:
  std::vector<uint8_t> buf_;
  size_t run_start_ = 0;
  bool synced_ = false;
  uint64_t packets_ = 0, discarded_bytes_ = 0, sync_losses_ = 0;
};

}  // namespace mpegcast
