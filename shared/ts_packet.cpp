#include "ts_packet.h"

namespace mpegcast {

bool parse_ts_header(const uint8_t* p, TsHeader& h) {
  if (p[0] != kTsSyncByte) return false;
  h.transport_error = (p[1] & 0x80) != 0;
  h.payload_unit_start = (p[1] & 0x40) != 0;
  h.pid = static_cast<uint16_t>(((p[1] & 0x1F) << 8) | p[2]);
  const uint8_t afc = (p[3] >> 4) & 0x3;
  h.continuity_counter = p[3] & 0x0F;
  h.has_adaptation_field = (afc & 0x2) != 0;
  h.has_payload = (afc & 0x1) != 0;
  h.random_access = false;
  h.discontinuity = false;
  h.payload_offset = 4;
  if (h.has_adaptation_field) {
    const uint8_t af_len = p[4];
    if (af_len > 183) return false;
    if (af_len > 0) {
      h.discontinuity = (p[5] & 0x80) != 0;
      h.random_access = (p[5] & 0x40) != 0;
    }
    h.payload_offset = static_cast<uint8_t>(5 + af_len);
    if (h.has_payload && h.payload_offset >= kTsPacketSize) h.has_payload = false;
  }
  return true;
}

}  // namespace mpegcast
