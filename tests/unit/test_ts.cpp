// TS packet parsing, resync, keyframe detection (on real FFmpeg output) and chunking.
#define BOOST_TEST_MODULE ts
#include <boost/test/unit_test.hpp>

#include <random>

#include "keyframe_detector.h"
#include "ts_chunker.h"
#include "ts_fixtures.h"
#include "ts_packet.h"
#include "video_format.h"

using namespace mpegcast;

namespace {

struct Collected {
  std::vector<std::shared_ptr<Chunk>> chunks;
  TsChunker::Sink sink() {
    return [this](std::shared_ptr<Chunk> c) { chunks.push_back(std::move(c)); };
  }
  size_t keyframes() const {
    size_t n = 0;
    for (auto& c : chunks) n += c->keyframe;
    return n;
  }
};

size_t count_keyframes(const std::vector<uint8_t>& ts) {
  KeyframeDetector d;
  size_t n = 0;
  for (size_t i = 0; i + kTsPacketSize <= ts.size(); i += kTsPacketSize) n += d.inspect(&ts[i]).keyframe;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(header_fields) {
  test::TsBuilder b;
  auto p = b.video(true, true);
  TsHeader h;
  BOOST_TEST(parse_ts_header(p.data(), h));
  BOOST_TEST(h.pid == test::TsBuilder::kVideoPid);
  BOOST_TEST(h.payload_unit_start);
  BOOST_TEST(h.random_access);
  BOOST_TEST(h.payload_offset == 6);
  p[0] = 0x46;
  BOOST_TEST(!parse_ts_header(p.data(), h));
  p[0] = 0x47;
  p[4] = 200;  // adaptation_field_length past the packet
  BOOST_TEST(!parse_ts_header(p.data(), h));
}

namespace {
// Feeds `input` in awkward pieces (1, 7, 100, 187 … bytes) and returns the aligned output.
std::vector<uint8_t> align(TsAligner& a, const std::vector<uint8_t>& input, bool one_piece) {
  std::vector<uint8_t> out;
  const size_t sizes[] = {1, 7, 100, 187, 188, 189, 500};
  size_t pos = 0, k = 0;
  while (pos < input.size()) {
    const size_t n = one_piece ? input.size() : std::min(sizes[k++ % 7], input.size() - pos);
    a.feed(&input[pos], n, [&](const uint8_t* p, size_t count) { out.insert(out.end(), p, p + count * 188); });
    pos += n;
  }
  return out;
}

// The stream with 7 bytes of garbage in front and 100 (0x00 then 0x47s) after packet 5.
std::vector<uint8_t> with_garbage(const std::vector<uint8_t>& stream, uint8_t first_middle_byte) {
  std::vector<uint8_t> input = {0x47, 0x01, 0x02, 0x47, 0x47, 0x99, 0x13};  // 7 bytes with fake syncs
  input.insert(input.end(), stream.begin(), stream.begin() + 5 * 188);
  input.push_back(first_middle_byte);
  input.insert(input.end(), 99, 0x47);  // 100 bytes of garbage between two packets
  input.insert(input.end(), stream.begin() + 5 * 188, stream.end());
  return input;
}
}  // namespace

BOOST_AUTO_TEST_CASE(aligner_resyncs_after_garbage_and_counts_it) {
  test::TsBuilder b;
  const std::vector<uint8_t> stream = b.gop(3, 4);  // 14 packets
  TsAligner a;
  BOOST_TEST(align(a, with_garbage(stream, 0x00), false) == stream);
  BOOST_TEST(a.packets() == 14u);
  BOOST_TEST(a.discarded_bytes() == 107u);
}

BOOST_AUTO_TEST_CASE(random_bytes_yield_no_packets) {
  std::mt19937 rng(42);
  std::vector<uint8_t> noise(64 * 1024);
  for (auto& x : noise) x = static_cast<uint8_t>(rng() % 0x47);  // never a sync byte
  TsAligner a;
  size_t packets = 0;
  a.feed(noise.data(), noise.size(), [&](const uint8_t*, size_t c) { packets += c; });
  BOOST_TEST(packets == 0u);
  BOOST_TEST(a.discarded_bytes() == noise.size());
}

BOOST_AUTO_TEST_CASE(keyframes_in_ffmpeg_mpeg1_output) {
  // 3 s at 25 fps with a 1 s GOP: exactly 3 keyframes.
  const auto ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 3.0);
  BOOST_REQUIRE(ts.size() % kTsPacketSize == 0);
  BOOST_TEST(count_keyframes(ts) == 3u);
  KeyframeDetector d;
  for (size_t i = 0; i < ts.size(); i += kTsPacketSize) d.inspect(&ts[i]);
  BOOST_TEST(d.video_pid() != 0xFFFF);
  BOOST_TEST((d.video_stream_type() == 0x01 || d.video_stream_type() == 0x02));
}

BOOST_AUTO_TEST_CASE(keyframes_in_ffmpeg_output_without_rai) {
  // Strip random_access_indicator: detection must fall back to the sequence header / I-picture.
  auto ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 3.0);
  for (size_t i = 0; i < ts.size(); i += kTsPacketSize) {
    if ((ts[i + 3] & 0x20) && ts[i + 4] > 0) ts[i + 5] &= static_cast<uint8_t>(~0x40);
  }
  BOOST_TEST(count_keyframes(ts) == 3u);
}

BOOST_AUTO_TEST_CASE(keyframes_in_ffmpeg_h264_output) {
  const auto ts = test::ffmpeg_ts("-c:v libx264 -preset ultrafast -bf 0 -g 25 -sc_threshold 0", 3.0);
  BOOST_TEST(count_keyframes(ts) == 3u);
}

BOOST_AUTO_TEST_CASE(chunker_cuts_at_keyframes_with_psi_in_front) {
  const auto ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 3.0);
  TsChunker chunker;
  Collected got;
  // Feed in 1316-byte pieces, as a network read would deliver them.
  for (size_t i = 0; i < ts.size(); i += 1316) chunker.feed(&ts[i], std::min<size_t>(1316, ts.size() - i), got.sink());
  BOOST_TEST(got.keyframes() == 3u);
  size_t total = 0;
  uint64_t seq = 0;
  for (auto& c : got.chunks) {
    total += c->size();
    BOOST_TEST(c->size() % kTsPacketSize == 0u);
    BOOST_TEST(c->size() <= 32 * kTsPacketSize);
    BOOST_TEST(c->seq == seq + 1);
    seq = c->seq;
    if (c->keyframe) {
      // FFmpeg writes PAT + PMT right before each keyframe; the chunk starts with them.
      TsHeader h;
      BOOST_REQUIRE(parse_ts_header(c->data(), h));
      BOOST_TEST(h.pid == kPidPat);
    }
  }
  BOOST_TEST(total == ts.size());  // nothing lost, nothing added
  BOOST_TEST(chunker.has_pat());
  BOOST_TEST(chunker.has_pmt());
  BOOST_TEST(chunker.stats().cc_errors == 0u);
}

BOOST_AUTO_TEST_CASE(chunker_keeps_a_run_of_psi_before_a_keyframe_at_the_end_of_a_read) {
  // Found by fuzz_ts_hub: keyframe, PAT, PMT, PAT, PMT, keyframe in one read. The four PSI packets
  // move into the second keyframe's chunk, which was sized for the one packet left in the read.
  test::TsBuilder b;
  std::vector<uint8_t> ts;
  auto add = [&ts](const std::array<uint8_t, 188>& p) { ts.insert(ts.end(), p.begin(), p.end()); };
  add(b.video(true, true));
  add(b.pat());
  add(b.pmt());
  add(b.pat());
  add(b.pmt());
  add(b.video(true, true));
  TsChunker chunker;
  Collected got;
  chunker.feed(ts.data(), ts.size(), got.sink());
  BOOST_REQUIRE(got.chunks.size() == 2u);
  BOOST_TEST(got.chunks[0]->size() == kTsPacketSize);
  BOOST_TEST(got.chunks[1]->size() == 5 * kTsPacketSize);  // PAT, PMT, PAT, PMT, keyframe
  BOOST_TEST(got.chunks[1]->keyframe);
}

BOOST_AUTO_TEST_CASE(chunker_counts_continuity_errors) {
  test::TsBuilder b;
  auto gop = b.gop(2, 3);
  // Drop the 4th packet (a video packet): one CC discontinuity on the video PID.
  gop.erase(gop.begin() + 3 * 188, gop.begin() + 4 * 188);
  TsChunker chunker;
  Collected got;
  chunker.feed(gop.data(), gop.size(), got.sink());
  BOOST_TEST(chunker.stats().cc_errors == 1u);
}

BOOST_AUTO_TEST_CASE(chunker_coalesces_feeds_for_hold_ms_and_flushes_on_time) {
  const auto ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 2.0);
  // Without coalescing: one chunk or more per feed.
  {
    TsChunker chunker;
    Collected got;
    for (size_t i = 0, t = 0; i < ts.size(); i += 1316, t += 4) chunker.feed(&ts[i], std::min<size_t>(1316, ts.size() - i), int64_t(t), got.sink());
    BOOST_TEST(got.chunks.size() >= (ts.size() + 1315) / 1316);
  }
  // hold 40 ms, a 1316-byte feed every 4 ms: a chunk spans ≤ 40 ms of arrivals (or is cut by a
  // keyframe or by max_chunk_bytes), no chunk waits longer than 40 ms, and nothing is lost.
  TsChunker chunker(64 * 1024);
  chunker.set_hold_ms(40);
  Collected got;
  std::vector<int64_t> emitted_at;
  int64_t t = 0;
  for (size_t i = 0; i < ts.size(); i += 1316, t += 4) {
    const size_t before = got.chunks.size();
    chunker.feed(&ts[i], std::min<size_t>(1316, ts.size() - i), t, got.sink());
    for (size_t k = before; k < got.chunks.size(); ++k) emitted_at.push_back(t);
  }
  const size_t fed = (ts.size() + 1315) / 1316;
  BOOST_TEST(got.chunks.size() < fed / 5, got.chunks.size() << " chunks from " << fed << " feeds");
  for (size_t k = 0; k < got.chunks.size(); ++k) {
    BOOST_TEST(emitted_at[k] - got.chunks[k]->created_ms <= 40, "chunk " << k << " held " << emitted_at[k] - got.chunks[k]->created_ms << " ms");
  }
  BOOST_TEST(got.keyframes() == 2u);
  // The last chunk is still held until flush_due() says it is due.
  size_t total = 0;
  for (auto& c : got.chunks) total += c->size();
  BOOST_TEST_REQUIRE(total < ts.size());
  chunker.flush_due(t + 40, got.sink());
  total = 0;
  for (auto& c : got.chunks) total += c->size();
  BOOST_TEST(total == ts.size());
}

BOOST_AUTO_TEST_CASE(video_format_from_mpeg1_sequence_header) {
  const auto ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 1.0, "320x240");
  const auto f = video_format_of_ts(ts.data(), ts.size() - ts.size() % 188, 0x100, 0x01);
  BOOST_REQUIRE(f);
  BOOST_TEST(f->codec == "mpeg1video");
  BOOST_TEST(f->width == 320);
  BOOST_TEST(f->height == 240);
  BOOST_TEST(f->fps == 25.0);
}

BOOST_AUTO_TEST_CASE(video_format_from_h264_sps_with_cropping_and_vui_timing) {
  // 180 is not a multiple of 16: the SPS codes 192 rows and crops 12 (frame_cropping, §7.4.2.1.1).
  const auto ts = test::ffmpeg_ts("-r 30 -c:v libx264 -preset ultrafast -bf 0 -g 30", 1.0, "320x180");
  const auto f = video_format_of_ts(ts.data(), ts.size() - ts.size() % 188, 0x100, 0x1B);
  BOOST_REQUIRE(f);
  BOOST_TEST(f->codec == "h264");
  BOOST_TEST(f->width == 320);
  BOOST_TEST(f->height == 180);
  BOOST_TEST(f->fps == 30.0);
  // High profile with 4:4:4 and scaling lists would take the other branches; a truncated SPS is refused.
  const uint8_t truncated[] = {0, 0, 1, 0x67, 0x64, 0x00};
  BOOST_TEST(!parse_video_format(0x1B, truncated, sizeof truncated));
}
