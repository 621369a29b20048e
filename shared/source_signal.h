// The capture agent's source state, in band: one private TS packet that tells relays (and,
// through them, the dashboard) whether the picture is the camera's or the "NO SIGNAL" slate.
//
// Layout (188 bytes): TS header on PID 0x1FF1 (ISO/IEC 13818-1 §2.4.3.2: sync 0x47,
// payload_unit_start_indicator 0, payload only, its own continuity_counter); payload "MCSS",
// version 1, state (0 live, 1 slate), since (uint64 little endian, seconds since the Unix epoch,
// when that state began), then 0xFF. The PID is in no PMT, so demuxers (libavformat, JSMpeg,
// mpegts.js) and players skip it; it never starts a PES, so JSMpeg never even looks at it. The
// agent sends one after every keyframe chunk; relays pass it on untouched like every packet.
#pragma once
#include <cstdint>
#include <optional>

namespace mpegcast {

constexpr uint16_t kPidSourceSignal = 0x1FF1;

enum class SourceSignalState : uint8_t { live = 0, slate = 1 };

/// What one packet says.
struct SourceSignal {
  SourceSignalState state = SourceSignalState::live;
  int64_t since_s = 0;  // Unix time the state began (0: unknown)
};

/// "live" / "slate".
const char* to_string(SourceSignalState s);

/// Writes the 188-byte packet for `signal` with continuity_counter `cc` (0..15) into `out`.
void build_source_signal_packet(const SourceSignal& signal, uint8_t cc, uint8_t* out);

/// Reads a 188-byte TS packet: the signal when it is one (PID, magic and version match and the
/// state is known), else nullopt.
std::optional<SourceSignal> parse_source_signal_packet(const uint8_t* packet);

}  // namespace mpegcast
