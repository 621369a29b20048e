// The latency marker: one private TS packet that the bench publisher slips into the stream and the
// bench viewers pick out again, carrying a sequence number and the publisher's send time.
//
// Layout (188 bytes):
//   bytes 0..3    TS packet header, ISO/IEC 13818-1 §2.4.3.2: sync_byte 0x47,
//                 transport_error_indicator 0, payload_unit_start_indicator 0 (so JSMpeg and
//                 libavformat, which look for PES/section starts, ignore the packet),
//                 transport_priority 0, PID 0x1FF0 (private: not listed in the PMT),
//                 transport_scrambling_control 00, adaptation_field_control 01 (payload only),
//                 continuity_counter (4 bits, incremented by the sender per marker packet).
//   bytes 4..7    magic "MCMK"
//   bytes 8..15   sequence number, uint64 little endian (0, 1, 2, … per publisher run)
//   bytes 16..23  send time, uint64 little endian, CLOCK_MONOTONIC in nanoseconds
//   bytes 24..187 0xFF (stuffing)
// Sender and receiver must share CLOCK_MONOTONIC, i.e. run on the same machine.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpegcast::bench {

constexpr uint16_t kMarkerPid = 0x1FF0;
constexpr size_t kMarkerPacketSize = 188;

/// What a marker packet carries.
struct Marker {
  uint64_t seq = 0;      // sequence number of the marker (per publisher run)
  uint64_t send_ns = 0;  // CLOCK_MONOTONIC at send time, nanoseconds
};

/// Writes one 188-byte marker packet to `out` (which must hold kMarkerPacketSize bytes) with
/// continuity_counter `cc` (only the low 4 bits are used), sequence number `seq` and send time
/// `send_ns` (CLOCK_MONOTONIC, ns).
void build_marker_packet(uint8_t* out, uint8_t cc, uint64_t seq, uint64_t send_ns);

/// Overwrites only the send time (bytes 16..23) of a marker packet built by build_marker_packet():
/// for stamping right before the write syscall.
void stamp_marker_packet(uint8_t* packet, uint64_t send_ns);

/// Reads the 188 bytes at `packet`. Returns true and fills `out` when they are a marker packet
/// (sync byte, PID 0x1FF0, PUSI 0, payload present without adaptation field, magic "MCMK");
/// false (leaving `out` unchanged) for any other TS packet.
bool parse_marker_packet(const uint8_t* packet, Marker& out);

/// The current CLOCK_MONOTONIC time in nanoseconds.
uint64_t monotonic_ns();

}  // namespace mpegcast::bench
