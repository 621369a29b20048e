// A target's queue (shared/output_queue.h, the queue of every libavformat output link: capture
// targets, the relay's udp:// and srt:// push links): bounded, drops whole GOPs on overflow,
// (re)starts at a keyframe chunk.
#define BOOST_TEST_MODULE capture_target_queue
#include <boost/test/unit_test.hpp>
#include <map>
#include <vector>

#include "output_queue.h"
#include "ts_packet.h"

using namespace mpegcast;

namespace {

/// Produces GOPs of `chunks_per_gop` chunks (the first a keyframe chunk), each chunk
/// `packets` TS packets, one chunk every `ms_per_chunk` ms; remembers which GOP each seq is in.
struct Producer {
  Producer(int chunks_per_gop_, size_t packets_, int64_t ms_per_chunk_)
      : chunks_per_gop(chunks_per_gop_), packets(packets_), ms_per_chunk(ms_per_chunk_) {}
  int chunks_per_gop;
  size_t packets;
  int64_t ms_per_chunk;
  uint64_t seq = 0;
  int64_t t_ms = 1000;
  int gop = -1;
  std::map<uint64_t, int> gop_of;
  std::map<int, int> gop_size;

  ChunkPtr next() {
    const bool key = seq % static_cast<uint64_t>(chunks_per_gop) == 0;
    if (key) ++gop;
    auto c = Chunk::create(packets * kTsPacketSize);
    std::vector<uint8_t> packet(kTsPacketSize, 0xFF);
    packet[0] = kTsSyncByte;
    for (size_t i = 0; i < packets; ++i) c->append(packet.data(), packet.size());
    c->keyframe = key;
    c->seq = ++seq;
    c->created_ms = t_ms;
    t_ms += ms_per_chunk;
    gop_of[c->seq] = gop;
    ++gop_size[gop];
    return c;
  }
  void push_gops(OutputQueue& q, int gops) {
    for (int i = 0; i < gops * chunks_per_gop; ++i) q.push(next());
  }
};

std::vector<ChunkPtr> drain(OutputQueue& q, std::vector<bool>* gaps = nullptr) {
  std::vector<ChunkPtr> out;
  ChunkPtr c;
  bool gap = false;
  while (q.pop(c, gap, 0) == OutputQueue::Pop::chunk) {
    out.push_back(c);
    if (gaps) gaps->push_back(gap);
  }
  return out;
}

/// Every GOP that appears in `sent` appears whole, in order, starting with its keyframe chunk.
void check_whole_gops(const std::vector<ChunkPtr>& sent, Producer& p, bool first_gop_may_be_tail = false) {
  size_t i = 0;
  bool first = true;
  while (i < sent.size()) {
    const int gop = p.gop_of[sent[i]->seq];
    size_t n = 0;
    const bool starts_with_key = sent[i]->keyframe;
    while (i + n < sent.size() && p.gop_of[sent[i + n]->seq] == gop) {
      if (n > 0) BOOST_REQUIRE_EQUAL(sent[i + n]->seq, sent[i + n - 1]->seq + 1);
      ++n;
    }
    if (!(first && first_gop_may_be_tail)) {
      BOOST_TEST_REQUIRE(starts_with_key, "GOP " << gop << " sent without its keyframe chunk");
      const bool last_in_flight = i + n == sent.size();  // may still be in production
      if (!last_in_flight) BOOST_TEST_REQUIRE(n == static_cast<size_t>(p.gop_size[gop]), "half of GOP " << gop << " sent");
    }
    first = false;
    i += n;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(keeps_everything_when_the_consumer_keeps_up) {
  OutputQueue q(2000, 1 << 20);
  Producer p{5, 10, 40};
  std::vector<ChunkPtr> sent;
  for (int i = 0; i < 100; ++i) {
    q.push(p.next());
    for (auto& c : drain(q)) sent.push_back(c);
  }
  BOOST_TEST(sent.size() == 100u);
  BOOST_TEST(q.stats().dropped_gops == 0u);
  BOOST_TEST(q.stats().dropped_chunks == 0u);
}

BOOST_AUTO_TEST_CASE(starts_at_a_keyframe_chunk) {
  OutputQueue q(2000, 1 << 20);
  Producer p{5, 10, 40};
  p.seq = 2;  // the first two chunks produced are mid-GOP
  p.gop = 0;
  for (int i = 0; i < 8; ++i) q.push(p.next());
  const auto sent = drain(q);
  BOOST_REQUIRE(!sent.empty());
  BOOST_TEST(sent.front()->keyframe);
  BOOST_TEST(sent.size() == 5u);  // seqs 6..10 (the GOP that started at seq 6)
}

BOOST_AUTO_TEST_CASE(overflow_by_bytes_drops_whole_gops_oldest_first) {
  // 4 chunks per GOP, 10 packets (1880 bytes) each: a GOP is 7520 bytes; limit ~3 GOPs.
  OutputQueue q(1000000, 3 * 7520);
  Producer p{4, 10, 10};
  p.push_gops(q, 10);  // nobody reads
  const auto st = q.stats();
  BOOST_TEST(st.bytes <= 3u * 7520u);
  BOOST_TEST(st.dropped_gops == 7u);
  BOOST_TEST(st.dropped_chunks == 28u);
  std::vector<bool> gaps;
  const auto sent = drain(q, &gaps);
  BOOST_REQUIRE_EQUAL(sent.size(), 12u);
  BOOST_TEST(sent.front()->keyframe);
  BOOST_TEST(p.gop_of[sent.front()->seq] == 7);  // the newest three GOPs survive
  BOOST_TEST(gaps.front());                       // drop before the first: peer gets PAT/PMT
  check_whole_gops(sent, p);
}

BOOST_AUTO_TEST_CASE(overflow_by_time_drops_whole_gops) {
  OutputQueue q(500, 1 << 30);  // 500 ms; chunks 40 ms apart, 5 per GOP (200 ms)
  Producer p{5, 2, 40};
  p.push_gops(q, 20);
  BOOST_TEST(q.stats().queued_ms <= 500);
  BOOST_TEST(q.stats().dropped_gops > 0u);
  const auto sent = drain(q);
  BOOST_REQUIRE(!sent.empty());
  BOOST_TEST(sent.front()->keyframe);
  check_whole_gops(sent, p);
}

BOOST_AUTO_TEST_CASE(the_gop_in_flight_is_never_cut) {
  OutputQueue q(1000000, 3 * 7520);
  Producer p{4, 10, 10};
  p.push_gops(q, 1);
  // The sender takes the keyframe chunk and one more of GOP 0, then stalls.
  std::vector<ChunkPtr> sent;
  ChunkPtr c;
  bool gap = false;
  for (int i = 0; i < 2; ++i) {
    BOOST_REQUIRE(q.pop(c, gap, 0) == OutputQueue::Pop::chunk);
    sent.push_back(c);
  }
  p.push_gops(q, 12);  // overflow while GOP 0 is half sent
  BOOST_TEST(q.stats().dropped_gops > 0u);
  for (auto& x : drain(q)) sent.push_back(x);
  // GOP 0 arrives whole (its last two chunks were kept), then whole later GOPs.
  BOOST_REQUIRE(sent.size() >= 4u);
  for (int i = 0; i < 4; ++i) BOOST_TEST(p.gop_of[sent[static_cast<size_t>(i)]->seq] == 0);
  BOOST_TEST(sent[4]->keyframe);
  BOOST_TEST(p.gop_of[sent[4]->seq] > 1);
  check_whole_gops(sent, p);
}

BOOST_AUTO_TEST_CASE(newest_gop_dropped_means_its_rest_is_dropped_too) {
  // Limit smaller than one GOP: the GOP in production overflows and must go whole.
  OutputQueue q(1000000, 2 * 1880);
  Producer p{4, 10, 10};
  std::vector<ChunkPtr> sent;
  for (int i = 0; i < 4 * 6; ++i) {
    q.push(p.next());
    if (i % 4 == 3) {
      // The consumer wakes up only once per GOP.
      for (auto& c : drain(q)) sent.push_back(c);
    }
  }
  // Whatever was sent is made of GOP starts (keyframe + following chunks of the same GOP).
  for (size_t i = 0; i < sent.size(); ++i) {
    if (i == 0 || p.gop_of[sent[i]->seq] != p.gop_of[sent[i - 1]->seq]) BOOST_TEST(sent[i]->keyframe);
    else BOOST_TEST(sent[i]->seq == sent[i - 1]->seq + 1);
  }
  BOOST_TEST(q.stats().dropped_gops > 0u);
}

BOOST_AUTO_TEST_CASE(restart_after_reconnect_begins_at_the_newest_keyframe) {
  OutputQueue q(1000000, 1 << 20);
  Producer p{4, 1, 10};
  p.push_gops(q, 3);
  q.push(p.next());  // GOP 3 keyframe
  q.push(p.next());  // GOP 3 second chunk
  ChunkPtr c;
  bool gap = false;
  BOOST_REQUIRE(q.pop(c, gap, 0) == OutputQueue::Pop::chunk);  // then the connection is lost
  q.restart();
  std::vector<bool> gaps;
  const auto sent = drain(q, &gaps);
  BOOST_REQUIRE_EQUAL(sent.size(), 2u);
  BOOST_TEST(sent[0]->keyframe);
  BOOST_TEST(p.gop_of[sent[0]->seq] == 3);
  BOOST_TEST(gaps[0]);
  BOOST_TEST(!gaps[1]);
  BOOST_TEST(q.stats().dropped_gops == 3u);  // tail of GOP 0 + GOPs 1, 2
}

BOOST_AUTO_TEST_CASE(restart_mid_gop_waits_for_the_next_keyframe) {
  OutputQueue q(1000000, 1 << 20);
  Producer p{4, 1, 10};
  q.push(p.next());  // keyframe of GOP 0
  ChunkPtr c;
  bool gap = false;
  BOOST_REQUIRE(q.pop(c, gap, 0) == OutputQueue::Pop::chunk);
  q.restart();       // reconnected mid-GOP, nothing queued
  q.push(p.next());  // rest of GOP 0: must not be sent on the new connection
  q.push(p.next());
  q.push(p.next());
  BOOST_TEST(drain(q).empty());
  q.push(p.next());  // GOP 1
  const auto sent = drain(q);
  BOOST_REQUIRE_EQUAL(sent.size(), 1u);
  BOOST_TEST(sent[0]->keyframe);
}

BOOST_AUTO_TEST_CASE(close_drains_then_reports_closed_and_abort_drops) {
  OutputQueue q(1000000, 1 << 20);
  Producer p{2, 1, 10};
  p.push_gops(q, 2);
  q.close();
  ChunkPtr c;
  bool gap = false;
  int n = 0;
  while (q.pop(c, gap, 0) == OutputQueue::Pop::chunk) ++n;
  BOOST_TEST(n == 4);
  BOOST_TEST((q.pop(c, gap, 0) == OutputQueue::Pop::closed));

  OutputQueue q2(1000000, 1 << 20);
  p.push_gops(q2, 2);
  q2.abort();
  BOOST_TEST((q2.pop(c, gap, 0) == OutputQueue::Pop::closed));
}

BOOST_AUTO_TEST_CASE(pat_pmt_travel_with_their_chunks) {
  // The PAT/PMT a consumer writes after a gap is the one pushed with the chunk it sends next,
  // not the producer's newest: a change of PAT/PMT reaches each target in stream order.
  OutputQueue q(1000000, 1 << 20);
  Producer p{2, 1, 10};
  const ChunkPtr psi_a = Chunk::create(2 * kTsPacketSize), psi_b = Chunk::create(2 * kTsPacketSize);
  q.push(p.next(), psi_a);  // GOP 0
  q.push(p.next(), psi_a);
  q.push(p.next(), psi_b);  // GOP 1, after the stream's PAT/PMT changed
  ChunkPtr c, psi;
  bool gap = false;
  BOOST_REQUIRE(q.pop(c, gap, 0, &psi) == OutputQueue::Pop::chunk);
  BOOST_TEST(gap);
  BOOST_TEST(psi == psi_a);
  BOOST_REQUIRE(q.pop(c, gap, 0, &psi) == OutputQueue::Pop::chunk);
  BOOST_TEST(psi == psi_a);
  BOOST_REQUIRE(q.pop(c, gap, 0, &psi) == OutputQueue::Pop::chunk);
  BOOST_TEST(c->keyframe);
  BOOST_TEST(psi == psi_b);
  q.push(p.next());  // pushed without: the consumer gets none
  BOOST_REQUIRE(q.pop(c, gap, 0, &psi) == OutputQueue::Pop::chunk);
  BOOST_TEST(!psi);
}
