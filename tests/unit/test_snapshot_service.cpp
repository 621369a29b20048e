// The snapshot service without libwebsockets: a hub fed with real ffmpeg MPEG-1 TS, the worker thread, the
// cache per keyframe and width, the bounded queue, forgotten waiters, a stream that starts over.
#define BOOST_TEST_MODULE snapshot_service
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "snapshot_codec.h"
#include "snapshot_service.h"
#include "stream_hub.h"
#include "ts_fixtures.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

struct Publisher : PublisherOwner {
  void taken_over() override {}
};

struct Waiter : SnapshotWaiter {
  std::vector<SnapshotAnswer> answers;
  void snapshot_done(const SnapshotAnswer& a) override { answers.push_back(a); }
};

/// The worker's wake-up, as the service loop would see it.
struct Wake {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  std::function<void()> fn() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu);
      ++count;
      cv.notify_all();
    };
  }
  int seen() {
    std::lock_guard<std::mutex> lock(mu);
    return count;
  }
  /// Waits for the next wake-up after `seen` ones (up to 5 s).
  bool wait(int seen) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return count > seen; });
  }
};

/// Publishes `ts` into `name` in 1316-byte pieces, 1 ms apart from `t0_ms` on; returns the last time.
int64_t feed(StreamHub& hub, Stream* st, const std::vector<uint8_t>& ts, int64_t t0_ms) {
  int64_t t = t0_ms;
  for (size_t off = 0; off < ts.size(); off += 1316, ++t) {
    hub.publish(st, ts.data() + off, std::min<size_t>(1316, ts.size() - off), t);
  }
  return t;
}

bool is_jpeg(const SnapshotAnswer& a) {
  return a.status == 200 && a.jpeg && a.jpeg->size() > 100 && static_cast<unsigned char>((*a.jpeg)[0]) == 0xFF &&
         static_cast<unsigned char>((*a.jpeg)[1]) == 0xD8;
}

/// Runs one request to its answer (at once, or through the worker). `wake` counts wake-ups.
SnapshotAnswer ask(SnapshotService& svc, StreamHub& hub, Wake& wake, const std::string& name, int width, Waiter& w) {
  const int seen = wake.seen();
  if (auto a = svc.request(hub, name, width, &w)) return *a;
  BOOST_TEST_REQUIRE(wake.wait(seen), "the worker did not wake the loop");
  svc.deliver(hub);
  BOOST_TEST_REQUIRE(!w.answers.empty());
  return w.answers.back();
}

}  // namespace

BOOST_AUTO_TEST_CASE(snapshot_size_keeps_the_aspect_ratio_within_limits) {
  int w = 0, h = 0;
  snapshot_size(640, 480, 0, w, h);
  BOOST_TEST((w == 640 && h == 480));
  snapshot_size(640, 480, 320, w, h);
  BOOST_TEST((w == 320 && h == 240));
  snapshot_size(640, 480, 1, w, h);
  BOOST_TEST((w == 16 && h == 12));
  snapshot_size(1280, 720, 5000, w, h);
  BOOST_TEST((w == 1920 && h == 1080));
  snapshot_size(3840, 2160, 0, w, h);
  BOOST_TEST((w == 1920 && h == 1080));
}

BOOST_AUTO_TEST_CASE(one_decode_per_keyframe_and_a_cache_per_width) {
  const std::vector<uint8_t> ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 2.0, "160x120");
  StreamHub hub(HubConfig{});
  Publisher pub;
  HubError err = HubError::none;
  Stream* st = hub.attach_publisher("cam", &pub, "test", false, 0, err);
  BOOST_TEST_REQUIRE(st);
  Wake wake;
  SnapshotService svc(SnapshotConfig{}, wake.fn());

  Waiter unknown;
  const auto a404 = svc.request(hub, "nosuch", 0, &unknown);
  BOOST_TEST_REQUIRE(a404.has_value());
  BOOST_TEST(a404->status == 404);
  BOOST_TEST(a404->message.find("no such stream") != std::string::npos);
  Waiter early;
  const auto nokey = svc.request(hub, "cam", 0, &early);  // a publisher, no keyframe yet
  BOOST_TEST_REQUIRE(nokey.has_value());
  BOOST_TEST(nokey->status == 404);
  BOOST_TEST(nokey->message.find("no keyframe") != std::string::npos);

  feed(hub, st, ts, 1);
  Waiter w1, w2, w3;
  const SnapshotAnswer first = ask(svc, hub, wake, "cam", 0, w1);
  BOOST_TEST(is_jpeg(first));
  BOOST_TEST(svc.stats().decodes == 1u);
  const SnapshotAnswer again = ask(svc, hub, wake, "cam", 0, w2);  // same keyframe, same width: the cache
  BOOST_TEST(again.jpeg == first.jpeg);
  BOOST_TEST(svc.stats().cache_hits == 1u);
  const SnapshotAnswer small = ask(svc, hub, wake, "cam", 80, w3);  // another width: an encode, no decode
  BOOST_TEST(is_jpeg(small));
  BOOST_TEST(small.jpeg->size() < first.jpeg->size());
  BOOST_TEST(svc.stats().decodes == 1u);
  BOOST_TEST(svc.stats().encodes == 2u);
  BOOST_TEST(svc.stats().requests == 5u);
}

BOOST_AUTO_TEST_CASE(waiters_share_a_job_the_queue_is_bounded_and_forgotten_waiters_hear_nothing) {
  const std::vector<uint8_t> ts = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 2.0, "160x120");
  StreamHub hub(HubConfig{});
  Publisher pub;
  HubError err = HubError::none;
  Stream* st = hub.attach_publisher("cam", &pub, "test", false, 0, err);
  feed(hub, st, ts, 1);
  Wake wake;
  SnapshotConfig cfg;
  cfg.max_waiting = 3;
  SnapshotService svc(cfg, wake.fn());

  Waiter a, b, gone, over;
  const int seen = wake.seen();
  BOOST_TEST(!svc.request(hub, "cam", 0, &a).has_value());
  BOOST_TEST(!svc.request(hub, "cam", 0, &b).has_value());
  BOOST_TEST(!svc.request(hub, "cam", 0, &gone).has_value());
  const auto refused = svc.request(hub, "cam", 0, &over);  // the 4th while three wait
  BOOST_TEST_REQUIRE(refused.has_value());
  BOOST_TEST(refused->status == 503);
  svc.forget(&gone);  // its connection closed
  BOOST_TEST_REQUIRE(wake.wait(seen));
  svc.deliver(hub);
  BOOST_TEST(a.answers.size() == 1u);
  BOOST_TEST(b.answers.size() == 1u);
  BOOST_TEST(gone.answers.empty());
  BOOST_TEST((is_jpeg(a.answers[0]) && a.answers[0].jpeg == b.answers[0].jpeg));
  BOOST_TEST(svc.stats().decodes == 1u);
  BOOST_TEST(svc.stats().refused == 1u);
}

BOOST_AUTO_TEST_CASE(a_stream_that_starts_over_never_gets_the_old_picture) {
  const std::vector<uint8_t> big = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 2.0, "160x120");
  const std::vector<uint8_t> other = test::ffmpeg_ts("-c:v mpeg1video -bf 0 -g 25", 1.0, "320x240");
  StreamHub hub(HubConfig{});
  Publisher pub;
  HubError err = HubError::none;
  Stream* st = hub.attach_publisher("cam", &pub, "test", false, 0, err);
  const int64_t t = feed(hub, st, big, 1);
  Wake wake;
  SnapshotService svc(SnapshotConfig{}, wake.fn());
  Waiter w1, w2;
  const SnapshotAnswer old = ask(svc, hub, wake, "cam", 0, w1);
  BOOST_TEST_REQUIRE(is_jpeg(old));

  // The publisher leaves, the stream is removed, a new one of the same name starts at sequence 1.
  hub.detach_publisher(st, &pub);
  hub.tick(t + 100000);
  BOOST_TEST_REQUIRE(hub.find("cam") == nullptr);
  st = hub.attach_publisher("cam", &pub, "test", false, t + 100001, err);
  feed(hub, st, other, t + 100002);
  const SnapshotAnswer fresh = ask(svc, hub, wake, "cam", 0, w2);
  BOOST_TEST_REQUIRE(is_jpeg(fresh));
  BOOST_TEST(fresh.jpeg != old.jpeg);
  BOOST_TEST(fresh.jpeg->size() > old.jpeg->size());  // 320x240 now
  BOOST_TEST(svc.stats().decodes == 2u);
}
