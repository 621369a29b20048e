// MPEG-1 frame-rate mapping (nearest legal rate; drop/repeat by timestamp) and the encoder's
// promise that no frame is held back.
#define BOOST_TEST_MODULE capture_frame_rate
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <vector>

#include "encoder.h"
#include "frame_rate.h"

using namespace mpegcast::capture;

namespace {
bool same(AVRational a, AVRational b) { return av_cmp_q(a, b) == 0; }

/// Feeds `seconds` of frames at `in_fps` (optionally with jitter); returns the output indices.
std::vector<int64_t> run_mapper(double in_fps, AVRational out, double seconds, int64_t jitter_us = 0) {
  FrameRateMapper m(out);
  std::vector<int64_t> indices;
  const int n = static_cast<int>(in_fps * seconds);
  for (int i = 0; i < n; ++i) {
    int64_t t = static_cast<int64_t>(i * 1e6 / in_fps) + ((i % 2) ? jitter_us : -jitter_us);
    if (t < 0) t = 0;
    int64_t first = 0;
    const int count = m.map(t, first);
    for (int k = 0; k < count; ++k) indices.push_back(first + k);
  }
  return indices;
}

void check_strictly_consecutive(const std::vector<int64_t>& idx) {
  for (size_t i = 1; i < idx.size(); ++i) BOOST_REQUIRE_EQUAL(idx[i], idx[i - 1] + 1);
}
}  // namespace

BOOST_AUTO_TEST_CASE(legal_rates_stay) {
  const AVRational legal[] = {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {50, 1}, {60000, 1001}, {60, 1}};
  for (AVRational r : legal) {
    BOOST_TEST(is_mpeg1_rate(r));
    BOOST_TEST(same(nearest_mpeg1_rate(r), r));
  }
}

BOOST_AUTO_TEST_CASE(other_rates_map_to_the_nearest_legal_one) {
  BOOST_TEST(!is_mpeg1_rate(AVRational{20, 1}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{20, 1}), AVRational{24000, 1001}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{15, 1}), AVRational{24000, 1001}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{27, 1}), AVRational{25, 1}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{28, 1}), AVRational{30000, 1001}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{2997, 100}), AVRational{30000, 1001}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{40, 1}), AVRational{30, 1}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{45, 1}), AVRational{50, 1}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{120, 1}), AVRational{60, 1}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{0, 0}), AVRational{25, 1}));
  BOOST_TEST(same(nearest_mpeg1_rate(AVRational{0, 1}), AVRational{25, 1}));
}

BOOST_AUTO_TEST_CASE(same_rate_passes_every_frame_even_with_jitter) {
  const auto idx = run_mapper(25, AVRational{25, 1}, 10, 8000);  // ±8 ms jitter
  BOOST_TEST(idx.size() == 250u);
  check_strictly_consecutive(idx);
}

BOOST_AUTO_TEST_CASE(faster_source_is_thinned_by_dropping) {
  const auto idx = run_mapper(30, AVRational{25, 1}, 10);
  check_strictly_consecutive(idx);
  BOOST_TEST(idx.size() >= 249u);
  BOOST_TEST(idx.size() <= 251u);
  const auto half = run_mapper(50, AVRational{25, 1}, 10);
  BOOST_TEST(half.size() >= 249u);
  BOOST_TEST(half.size() <= 251u);
}

BOOST_AUTO_TEST_CASE(slower_source_is_filled_by_repeating) {
  // 20 fps → 23.976 fps: about 240 output frames for 200 input frames in 10 s.
  const auto idx = run_mapper(20, AVRational{24000, 1001}, 10);
  check_strictly_consecutive(idx);
  BOOST_TEST(idx.size() >= 238u);
  BOOST_TEST(idx.size() <= 241u);
}

BOOST_AUTO_TEST_CASE(a_stalled_source_is_not_filled_with_repeats) {
  FrameRateMapper m(AVRational{25, 1}, 1000);
  int64_t first = 0;
  BOOST_TEST(m.map(0, first) == 1);
  BOOST_TEST(m.map(40000, first) == 1);
  // 5 s without frames: the output jumps instead of repeating 125 frames.
  BOOST_TEST(m.map(5040000, first) == 1);
  BOOST_TEST(first == 126);
  BOOST_TEST(m.map(5080000, first) == 1);
  BOOST_TEST(first == 127);
}

BOOST_AUTO_TEST_CASE(encoder_opens_at_every_mapped_rate_and_holds_nothing_back) {
  for (AVRational in : {AVRational{20, 1}, AVRational{25, 1}, AVRational{15, 1}, AVRational{30000, 1001}, AVRational{60, 1}}) {
    const AVRational rate = default_video_codec().encoder_rate(in);  // MPEG-1's rule: the nearest legal rate
    BOOST_TEST(av_cmp_q(rate, nearest_mpeg1_rate(in)) == 0);
    OutputConfig oc;
    Encoder enc(default_video_codec(), 320, 240, rate, oc);
    BOOST_TEST(enc.gop_frames() == static_cast<int>(av_q2d(rate) + 0.5));
    for (int i = 0; i < 10; ++i) {
      FramePtr f = make_frame();
      f->width = 320;
      f->height = 240;
      f->format = AV_PIX_FMT_YUV420P;
      BOOST_REQUIRE(av_frame_get_buffer(f.get(), 0) == 0);
      for (int p = 0; p < 3; ++p) std::memset(f->data[p], 16 + i * 8 + p, static_cast<size_t>(f->linesize[p]) * (p ? 120 : 240));
      f->pts = i;
      int packets = 0;
      int64_t pts = -1;
      BOOST_REQUIRE(enc.encode(f.get(), [&](AVPacket* p) {
        ++packets;
        pts = p->pts;
        return 0;
      }) == 0);
      // Low-delay mode: the packet for frame i comes out when frame i goes in.
      BOOST_TEST(packets == 1);
      BOOST_TEST(pts == i);
    }
  }
}

BOOST_AUTO_TEST_CASE(encoder_refuses_an_illegal_rate_unmapped) {
  // The reason for the mapping: mpeg1video refuses e.g. 20 fps.
  OutputConfig oc;
  BOOST_CHECK_THROW(Encoder(default_video_codec(), 320, 240, AVRational{20, 1}, oc), std::runtime_error);
}
