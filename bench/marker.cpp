#include "marker.h"

#include <cstring>
#include <ctime>

namespace mpegcast::bench {
namespace {

constexpr uint8_t kMagic[4] = {'M', 'C', 'M', 'K'};

void put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void build_marker_packet(uint8_t* out, uint8_t cc, uint64_t seq, uint64_t send_ns) {
  out[0] = 0x47;
  out[1] = static_cast<uint8_t>((kMarkerPid >> 8) & 0x1F);  // TEI 0, PUSI 0, priority 0
  out[2] = static_cast<uint8_t>(kMarkerPid & 0xFF);
  out[3] = static_cast<uint8_t>(0x10 | (cc & 0x0F));  // not scrambled, payload only
  std::memcpy(out + 4, kMagic, sizeof kMagic);
  put_le64(out + 8, seq);
  put_le64(out + 16, send_ns);
  std::memset(out + 24, 0xFF, kMarkerPacketSize - 24);
}

void stamp_marker_packet(uint8_t* packet, uint64_t send_ns) { put_le64(packet + 16, send_ns); }

bool parse_marker_packet(const uint8_t* packet, Marker& out) {
  if (packet[0] != 0x47) return false;
  const uint16_t pid = static_cast<uint16_t>(((packet[1] & 0x1F) << 8) | packet[2]);
  if (pid != kMarkerPid) return false;
  if (packet[1] & 0x40) return false;                 // PUSI must be 0
  if ((packet[3] & 0x30) != 0x10) return false;       // payload only
  if (std::memcmp(packet + 4, kMagic, sizeof kMagic) != 0) return false;
  out.seq = get_le64(packet + 8);
  out.send_ns = get_le64(packet + 16);
  return true;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace mpegcast::bench
