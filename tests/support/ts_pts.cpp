#include "ts_pts.h"

namespace mpegcast::test {

void VideoPtsTracker::update(const std::vector<uint8_t>& ts) {
  constexpr size_t kPacket = 188;
  while (scanned_ + kPacket <= ts.size()) {
    const uint8_t* p = ts.data() + scanned_;
    if (p[0] != 0x47) {  // not aligned (should not happen with whole packets): find the next sync byte
      ++scanned_;
      continue;
    }
    scanned_ += kPacket;
    const bool unit_start = p[1] & 0x40;
    const unsigned afc = (p[3] >> 4) & 3;
    if (!unit_start || !(afc & 1)) continue;
    const size_t payload = 4 + ((afc & 2) ? 1u + p[4] : 0u);
    if (payload + 14 > kPacket) continue;
    const uint8_t* pes = p + payload;
    if (pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || (pes[3] & 0xF0) != 0xE0) continue;
    if (!(pes[7] & 0x80)) continue;  // no PTS
    const int64_t pts = (int64_t{pes[9] & 0x0E} << 29) | (int64_t{pes[10]} << 22) | (int64_t{pes[11] & 0xFE} << 14) |
                        (int64_t{pes[12]} << 7) | (pes[13] >> 1);
    last_pts_ = pts;
  }
}

}  // namespace mpegcast::test
