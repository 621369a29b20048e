#include "source_signal.h"

#include <cstring>

#include "ts_packet.h"

namespace mpegcast {
namespace {
constexpr uint8_t kMagic[4] = {'M', 'C', 'S', 'S'};
constexpr uint8_t kVersion = 1;
}  // namespace

const char* to_string(SourceSignalState s) { return s == SourceSignalState::slate ? "slate" : "live"; }

void build_source_signal_packet(const SourceSignal& signal, uint8_t cc, uint8_t* out) {
  out[0] = 0x47;
  out[1] = static_cast<uint8_t>((kPidSourceSignal >> 8) & 0x1F);  // TEI 0, PUSI 0, priority 0
  out[2] = static_cast<uint8_t>(kPidSourceSignal & 0xFF);
  out[3] = static_cast<uint8_t>(0x10 | (cc & 0x0F));  // not scrambled, payload only
  std::memcpy(out + 4, kMagic, sizeof kMagic);
  out[8] = kVersion;
  out[9] = static_cast<uint8_t>(signal.state);
  const uint64_t since = static_cast<uint64_t>(signal.since_s);
  for (int i = 0; i < 8; ++i) out[10 + i] = static_cast<uint8_t>(since >> (8 * i));
  std::memset(out + 18, 0xFF, kTsPacketSize - 18);
}

std::optional<SourceSignal> parse_source_signal_packet(const uint8_t* p) {
  if (p[0] != 0x47) return std::nullopt;
  const uint16_t pid = static_cast<uint16_t>(((p[1] & 0x1F) << 8) | p[2]);
  if (pid != kPidSourceSignal || (p[3] & 0x30) != 0x10) return std::nullopt;  // payload only
  if (std::memcmp(p + 4, kMagic, sizeof kMagic) != 0 || p[8] != kVersion || p[9] > 1) return std::nullopt;
  SourceSignal s;
  s.state = static_cast<SourceSignalState>(p[9]);
  uint64_t since = 0;
  for (int i = 7; i >= 0; --i) since = (since << 8) | p[10 + i];
  s.since_s = since > static_cast<uint64_t>(INT64_MAX) ? 0 : static_cast<int64_t>(since);
  return s;
}

}  // namespace mpegcast
