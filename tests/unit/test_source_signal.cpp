// The capture agent's in-band source signal (shared/source_signal.h): the packet round-trips,
// anything else on its PID is ignored, and the chunker reports the newest one and forgets it on reset.
#define BOOST_TEST_MODULE source_signal
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <vector>

#include "source_signal.h"
#include "ts_chunker.h"
#include "ts_packet.h"

using namespace mpegcast;

BOOST_AUTO_TEST_CASE(packet_round_trip) {
  uint8_t p[kTsPacketSize];
  build_source_signal_packet(SourceSignal{SourceSignalState::slate, 1795000000}, 7, p);
  BOOST_TEST(p[0] == 0x47);
  BOOST_TEST(((p[1] & 0x1F) << 8 | p[2]) == kPidSourceSignal);
  BOOST_TEST((p[1] & 0x40) == 0);  // never a PES start
  BOOST_TEST((p[3] & 0x0F) == 7);
  const auto s = parse_source_signal_packet(p);
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST((s->state == SourceSignalState::slate));
  BOOST_TEST(s->since_s == 1795000000);
  build_source_signal_packet(SourceSignal{SourceSignalState::live, 0}, 0, p);
  BOOST_TEST((parse_source_signal_packet(p)->state == SourceSignalState::live));
  BOOST_TEST(std::string(to_string(SourceSignalState::slate)) == "slate");
}

BOOST_AUTO_TEST_CASE(other_packets_are_not_signals) {
  uint8_t p[kTsPacketSize];
  build_source_signal_packet(SourceSignal{SourceSignalState::live, 1}, 0, p);
  uint8_t q[kTsPacketSize];
  std::memcpy(q, p, sizeof q);
  q[2] ^= 1;  // another PID
  BOOST_TEST(!parse_source_signal_packet(q));
  std::memcpy(q, p, sizeof q);
  q[4] = 'X';  // magic
  BOOST_TEST(!parse_source_signal_packet(q));
  std::memcpy(q, p, sizeof q);
  q[8] = 2;  // version
  BOOST_TEST(!parse_source_signal_packet(q));
  std::memcpy(q, p, sizeof q);
  q[9] = 9;  // state
  BOOST_TEST(!parse_source_signal_packet(q));
  std::memcpy(q, p, sizeof q);
  q[3] = 0x30;  // adaptation field in front: not our layout
  BOOST_TEST(!parse_source_signal_packet(q));
}

BOOST_AUTO_TEST_CASE(chunker_reports_the_newest_signal) {
  TsChunker chunker;
  std::vector<ChunkPtr> chunks;
  auto sink = [&](std::shared_ptr<Chunk> c) { chunks.push_back(std::move(c)); };
  BOOST_TEST(!chunker.source_signal());
  uint8_t p[2 * kTsPacketSize];
  build_source_signal_packet(SourceSignal{SourceSignalState::live, 100}, 0, p);
  build_source_signal_packet(SourceSignal{SourceSignalState::slate, 200}, 1, p + kTsPacketSize);
  // Sync is acquired on two sync bytes 188 apart: the first signal is fed with the second's sync byte.
  chunker.feed(p, kTsPacketSize + 1, sink);
  BOOST_TEST_REQUIRE(chunker.source_signal().has_value());
  BOOST_TEST((chunker.source_signal()->state == SourceSignalState::live));
  chunker.feed(p + kTsPacketSize + 1, kTsPacketSize - 1, sink);
  BOOST_TEST((chunker.source_signal()->state == SourceSignalState::slate));
  BOOST_TEST(chunker.source_signal()->since_s == 200);
  // Passed on untouched, like every packet.
  size_t bytes = 0;
  for (const auto& c : chunks) bytes += c->size();
  BOOST_TEST(bytes == 2 * kTsPacketSize);
  BOOST_TEST(std::memcmp(chunks.back()->data() + chunks.back()->size() - kTsPacketSize, p + kTsPacketSize,
                         kTsPacketSize) == 0);
  chunker.reset();  // a new publisher says nothing yet
  BOOST_TEST(!chunker.source_signal());
}
