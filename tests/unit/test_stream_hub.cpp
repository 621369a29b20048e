// The stream hub: fan-out without copies, GOP cache for late joiners, chunk lifetime, lag skips,
// stalls, publisher lifecycle and limits.
#define BOOST_TEST_MODULE stream_hub
#include <boost/test/unit_test.hpp>

#include "stream_hub.h"
#include "ts_fixtures.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

struct FakeOwner : SubscriberOwner {
  int wakes = 0;
  int closes = 0;
  std::string reason;
  void wake() override { ++wakes; }
  void close(SubscriberClose why) override {
    ++closes;
    reason = to_string(why);
  }
};

struct FakePublisher : PublisherOwner {
  bool taken = false;
  void taken_over() override { taken = true; }
};

/// Drains everything ready for `s`, returning the chunks (as the transport would write them).
std::vector<const Chunk*> drain(Subscriber* s, int64_t now) {
  std::vector<const Chunk*> out;
  while (const Chunk* c = s->next(now)) out.push_back(c);
  return out;
}

bool starts_with_pat(const Chunk* c) { return c->size() >= 188 && c->data()[1] == 0x40 && c->data()[2] == 0x00; }

HubConfig small_config() {
  HubConfig c;
  c.max_lag_ms = 1000;
  c.stall_timeout_s = 5;
  c.max_subscribers = 10;
  c.max_subscribers_per_stream = 5;
  c.max_streams = 3;
  c.max_waiting_streams = 3;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(fan_out_shares_one_copy_per_chunk) {
  StreamHub hub(small_config());
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  BOOST_REQUIRE(st);
  FakeOwner o1, o2, o3;
  Subscriber* s1 = hub.subscribe("cam1", &o1, 0, err);
  Subscriber* s2 = hub.subscribe("cam1", &o2, 0, err);
  Subscriber* s3 = hub.subscribe("cam1", &o3, 0, err);
  BOOST_TEST(drain(s1, 0).empty());  // nothing yet: parked
  drain(s2, 0);
  drain(s3, 0);

  test::TsBuilder b;
  const auto gop = b.gop(5, 3);
  hub.publish(st, gop.data(), gop.size(), 10);
  BOOST_TEST(o1.wakes == 1);  // woken once, not once per chunk
  BOOST_TEST(o2.wakes == 1);
  auto c1 = drain(s1, 10), c2 = drain(s2, 10), c3 = drain(s3, 10);
  BOOST_REQUIRE(!c1.empty());
  BOOST_TEST(c1 == c2);  // the very same chunk objects: no copy per viewer
  BOOST_TEST(c1 == c3);
  BOOST_TEST(c1.front()->keyframe);
  size_t bytes = 0;
  for (auto* c : c1) bytes += c->size();
  BOOST_TEST(bytes == gop.size());
}

BOOST_AUTO_TEST_CASE(late_joiner_starts_at_newest_keyframe_with_psi) {
  StreamHub hub(small_config());
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  test::TsBuilder b;
  auto g1 = b.gop(10, 2), g2 = b.gop(10, 2);
  hub.publish(st, g1.data(), g1.size(), 0);
  hub.publish(st, g2.data(), 6 * 188, 100);  // PAT, PMT, keyframe, 3 more packets of GOP 2
  FakeOwner o;
  Subscriber* s = hub.subscribe("cam1", &o, 100, err);
  auto got = drain(s, 100);
  BOOST_REQUIRE(!got.empty());
  BOOST_TEST(got.front()->keyframe);
  BOOST_TEST(starts_with_pat(got.front()));  // PAT/PMT travel with the keyframe
  size_t bytes = 0;
  for (auto* c : got) bytes += c->size();
  BOOST_TEST(bytes == 6 * 188u);  // exactly the newest GOP so far, nothing of GOP 1
  // The rest of GOP 2 follows on the next publish.
  hub.publish(st, g2.data() + 6 * 188, g2.size() - 6 * 188, 200);
  BOOST_TEST(o.wakes == 1);
  BOOST_TEST(!drain(s, 200).empty());
}

BOOST_AUTO_TEST_CASE(psi_prefix_when_keyframe_chunk_lacks_pat) {
  StreamHub hub(small_config());
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  test::TsBuilder b;
  auto g1 = b.gop(3, 2);
  hub.publish(st, g1.data(), g1.size(), 0);
  // A second keyframe without PAT/PMT in front of it.
  auto k = b.video(true, true);
  hub.publish(st, k.data(), k.size(), 50);
  FakeOwner o;
  Subscriber* s = hub.subscribe("cam1", &o, 50, err);
  auto got = drain(s, 50);
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0]->size() == 2 * 188u);  // PAT + PMT prefix
  BOOST_TEST(starts_with_pat(got[0]));
  BOOST_TEST(got[1]->keyframe);
}

BOOST_AUTO_TEST_CASE(next_shared_hands_out_the_hubs_own_chunks) {
  StreamHub hub(small_config());
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  test::TsBuilder b;
  auto g1 = b.gop(3, 2);
  hub.publish(st, g1.data(), g1.size(), 0);
  auto k = b.video(true, true);  // a keyframe chunk without PAT/PMT: the prefix comes first
  hub.publish(st, k.data(), k.size(), 50);
  FakeOwner o1, o2;
  Subscriber* s1 = hub.subscribe("cam1", &o1, 50, err);
  Subscriber* s2 = hub.subscribe("cam1", &o2, 50, err);
  std::vector<ChunkPtr> shared;
  while (ChunkPtr c = s1->next_shared(50)) shared.push_back(c);
  auto plain = drain(s2, 50);
  BOOST_REQUIRE(shared.size() == 2u);
  BOOST_REQUIRE(plain.size() == 2u);
  BOOST_TEST(shared[0].get() == plain[0]);  // the same objects, no copies
  BOOST_TEST(shared[1].get() == plain[1]);
  BOOST_TEST(shared[0] == st->psi());      // the PAT + PMT prefix is the stream's psi()
  BOOST_TEST(shared[1]->keyframe);
  // A held reference outlives the hub's ring (another thread may still be sending it).
  const long before = shared[1].use_count();
  hub.detach_publisher(st, &pub);
  hub.attach_publisher("cam1", &pub, "test", false, 100, err);  // a new publisher clears the ring
  BOOST_TEST(shared[1].use_count() < before);
  BOOST_TEST(shared[1]->keyframe);
  BOOST_TEST(!st->psi());
}

BOOST_AUTO_TEST_CASE(memory_is_bounded_by_the_ring_not_by_subscribers) {
  HubConfig cfg = small_config();
  StreamHub hub(cfg);
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  FakeOwner never_reads;
  Subscriber* lazy = hub.subscribe("cam1", &never_reads, 0, err);
  (void)lazy;
  test::TsBuilder b;
  auto g = b.gop(25, 3);
  hub.publish(st, g.data(), g.size(), 0);
  std::weak_ptr<const Chunk> first;
  {
    FakeOwner o;
    Subscriber* s = hub.subscribe("cam1", &o, 0, err);
    // Keep a weak reference to the first chunk via a fresh subscriber's view.
    const Chunk* c = s->next(0);
    BOOST_REQUIRE(c);
    hub.unsubscribe(s);
  }
  const size_t first_bytes = st->stats().cache_bytes;
  // 30 more GOPs, 1 s apart: the ring keeps only what max_lag_ms and the newest GOP need.
  for (int i = 1; i <= 30; ++i) {
    auto gi = b.gop(25, 3);
    hub.publish(st, gi.data(), gi.size(), i * 1000);
  }
  BOOST_TEST(st->stats().cache_bytes <= 3 * first_bytes);
  BOOST_TEST(st->stats().cache_chunks < 10u);
}

BOOST_AUTO_TEST_CASE(lagging_subscriber_skips_to_newest_keyframe) {
  StreamHub hub(small_config());  // max_lag_ms = 1000
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  FakeOwner o;
  Subscriber* s = hub.subscribe("cam1", &o, 0, err);
  test::TsBuilder b;
  // GOP 1 in 10 frames, 100 ms apart; the subscriber reads one chunk and then stops reading.
  auto g = b.gop(1, 2);
  hub.publish(st, g.data(), g.size(), 0);
  for (int f = 1; f < 10; ++f) {
    auto fr = b.frame(2);
    hub.publish(st, fr.data(), fr.size(), f * 100);
  }
  BOOST_REQUIRE(s->next(0));
  // 1.5 s later a new GOP arrives; the subscriber is now > max_lag_ms behind.
  auto g2 = b.gop(1, 2);
  hub.publish(st, g2.data(), g2.size(), 1500);
  BOOST_TEST(s->lag_ms() >= 1000);
  const Chunk* c = s->next(1500);
  BOOST_REQUIRE(c);
  BOOST_TEST(c->keyframe);
  BOOST_TEST(c->seq == st->newest_seq());
  BOOST_TEST(s->skips() == 1u);
  BOOST_TEST(st->stats().lag_skips == 1u);
}

BOOST_AUTO_TEST_CASE(stalled_subscriber_is_closed_and_others_are_not) {
  StreamHub hub(small_config());  // stall_timeout_s = 5
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  FakeOwner stalled, reader;
  Subscriber* s1 = hub.subscribe("cam1", &stalled, 0, err);
  Subscriber* s2 = hub.subscribe("cam1", &reader, 0, err);
  (void)s1;
  test::TsBuilder b;
  for (int i = 0; i < 8; ++i) {
    auto g = b.gop(1, 2);
    hub.publish(st, g.data(), g.size(), i * 1000);
    drain(s2, i * 1000);
    hub.tick(i * 1000);
  }
  BOOST_TEST(stalled.closes == 1);
  BOOST_TEST(reader.closes == 0);
  BOOST_TEST(st->stats().stalls == 1u);
}

BOOST_AUTO_TEST_CASE(publisher_lifecycle) {
  StreamHub hub(small_config());
  FakePublisher p1, p2, p3;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &p1, "a", false, 0, err);
  BOOST_REQUIRE(st);
  // A second publisher is refused…
  BOOST_TEST(!hub.attach_publisher("cam1", &p2, "b", false, 0, err));
  BOOST_TEST((err == HubError::stream_busy));
  FakeOwner o;
  Subscriber* s = hub.subscribe("cam1", &o, 0, err);
  test::TsBuilder b;
  auto g = b.gop(3, 2);
  hub.publish(st, g.data(), g.size(), 0);
  drain(s, 0);
  // …the first leaves; the viewer stays and waits for the next publisher's keyframe.
  hub.detach_publisher(st, &p1);
  hub.tick(10);
  BOOST_TEST(hub.find("cam1") == st);
  BOOST_TEST(st->subscriber_count() == 1u);
  Stream* again = hub.attach_publisher("cam1", &p2, "b", false, 20, err);
  BOOST_TEST(again == st);
  auto mid = b.frame(2);  // the new publisher starts mid-GOP: nothing for the viewer yet
  hub.publish(st, mid.data(), mid.size(), 30);
  BOOST_TEST(drain(s, 30).empty());
  auto g2 = b.gop(2, 2);
  hub.publish(st, g2.data(), g2.size(), 40);
  auto got = drain(s, 40);
  BOOST_REQUIRE(!got.empty());
  BOOST_TEST(got.front()->keyframe);
  // Takeover when allowed.
  BOOST_TEST(hub.attach_publisher("cam1", &p3, "c", true, 50, err) == st);
  BOOST_TEST(p2.taken);
  BOOST_TEST(st->stats().publisher == "c");
}

BOOST_AUTO_TEST_CASE(limits_and_names) {
  StreamHub hub(small_config());  // 5 per stream, 10 total, 3 streams
  HubError err;
  std::vector<FakeOwner> owners(12);
  for (int i = 0; i < 5; ++i) BOOST_TEST(hub.subscribe("a", &owners[static_cast<size_t>(i)], 0, err));
  BOOST_TEST(!hub.subscribe("a", &owners[5], 0, err));
  BOOST_TEST((err == HubError::stream_full));
  BOOST_TEST(hub.subscribe("b", &owners[6], 0, err));
  BOOST_TEST(hub.subscribe("c", &owners[7], 0, err));
  BOOST_TEST(!hub.subscribe("d", &owners[8], 0, err));
  BOOST_TEST((err == HubError::too_many_streams));
  BOOST_TEST(!hub.subscribe("../etc", &owners[9], 0, err));
  BOOST_TEST((err == HubError::bad_name));
  BOOST_TEST(!hub.subscribe(std::string(65, 'x'), &owners[9], 0, err));
}

BOOST_AUTO_TEST_CASE(empty_streams_are_removed) {
  StreamHub hub(small_config());
  HubError err;
  FakeOwner o;
  Subscriber* s = hub.subscribe("gone", &o, 0, err);
  BOOST_TEST(hub.stream_count() == 1u);
  hub.unsubscribe(s);
  hub.tick(0);
  BOOST_TEST(hub.stream_count() == 0u);
}

BOOST_AUTO_TEST_CASE(waiting_viewers_never_take_a_publishers_place) {
  HubConfig c = small_config();  // 3 published streams, 3 waiting streams
  c.max_waiting_streams = 2;
  StreamHub hub(c);
  HubError err;
  std::vector<FakeOwner> squatters(3);
  BOOST_TEST(hub.subscribe("s0", &squatters[0], 0, err));
  BOOST_TEST(hub.subscribe("s1", &squatters[1], 0, err));
  BOOST_TEST(!hub.subscribe("s2", &squatters[2], 0, err));  // the waiting-stream cap
  BOOST_TEST((err == HubError::too_many_streams));
  // Publishers still get all three published slots, two of them new streams.
  FakePublisher p0, p1, p2, p3;
  BOOST_TEST(hub.attach_publisher("a", &p0, "a", false, 0, err));
  BOOST_TEST(hub.attach_publisher("b", &p1, "b", false, 0, err));
  BOOST_TEST(hub.attach_publisher("s0", &p2, "s0", false, 0, err));  // a waited-for stream becomes published
  BOOST_TEST(hub.published_stream_count() == 3u);
  BOOST_TEST(!hub.attach_publisher("d", &p3, "d", false, 0, err));
  BOOST_TEST((err == HubError::too_many_streams));
  // A publisher leaving frees its slot.
  hub.detach_publisher(hub.find("a"), &p0);
  BOOST_TEST(hub.attach_publisher("d", &p3, "d", false, 0, err));
}

BOOST_AUTO_TEST_CASE(viewers_of_a_never_published_stream_are_sent_away) {
  HubConfig c = small_config();
  c.publisher_wait_ms = 3000;
  StreamHub hub(c);
  HubError err;
  FakeOwner waiting, published_viewer;
  hub.subscribe("nobody", &waiting, 0, err);
  FakePublisher pub;
  Stream* st = hub.attach_publisher("cam1", &pub, "p", false, 0, err);
  Subscriber* v = hub.subscribe("cam1", &published_viewer, 0, err);
  drain(v, 0);  // parked: waiting for data
  hub.tick(2999);
  BOOST_TEST(waiting.closes == 0);
  hub.tick(3000);
  BOOST_TEST(waiting.closes == 1);
  BOOST_TEST(waiting.reason == to_string(SubscriberClose::no_publisher));
  hub.tick(4000);
  BOOST_TEST(waiting.closes == 1);  // told once
  // A viewer of a stream that has had a publisher keeps waiting for the next one.
  hub.detach_publisher(st, &pub);
  hub.tick(60000);
  BOOST_TEST(published_viewer.closes == 0);
}

BOOST_AUTO_TEST_CASE(publisher_started_after_a_keyframe_or_64_kib_of_ts) {
  StreamHub hub(small_config());
  HubError err;
  FakePublisher pub;
  Stream* st = hub.attach_publisher("cam1", &pub, "p", false, 0, err);
  BOOST_TEST(!st->publisher_started());
  test::TsBuilder b;
  auto pat = b.gop(1, 1);  // PAT + PMT + keyframe packet
  hub.publish(st, pat.data(), 2 * 188, 0);  // PAT and PMT only
  BOOST_TEST(!st->publisher_started());
  hub.publish(st, pat.data() + 2 * 188, pat.size() - 2 * 188, 10);
  BOOST_TEST(st->publisher_started());
  hub.detach_publisher(st, &pub);
  BOOST_TEST(!st->publisher_started());
}

BOOST_AUTO_TEST_CASE(demand_is_an_event_on_the_first_and_last_subscriber) {
  StreamHub hub(small_config());
  std::vector<std::pair<std::string, bool>> events;
  hub.add_demand_handler([&](const std::string& name, bool wanted) { events.emplace_back(name, wanted); });
  HubError err;
  FakeOwner a, b;
  Subscriber* sa = hub.subscribe("cam1", &a, 0, err);
  Subscriber* sb = hub.subscribe("cam1", &b, 0, err);
  BOOST_TEST(events.size() == 1u);  // only the first subscriber makes demand
  hub.unsubscribe(sa);
  BOOST_TEST(events.size() == 1u);
  hub.unsubscribe(sb);
  BOOST_REQUIRE(events.size() == 2u);
  BOOST_TEST((events[0] == std::make_pair(std::string("cam1"), true)));
  BOOST_TEST((events[1] == std::make_pair(std::string("cam1"), false)));
}

BOOST_AUTO_TEST_CASE(publisher_of_random_bytes_is_refused_after_64_kib) {
  StreamHub hub(small_config());
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("junk", &pub, "test", false, 0, err);
  std::vector<uint8_t> noise(8192);
  uint32_t x = 12345;
  PublishResult r = PublishResult::ok;
  int sent = 0;
  for (; sent < 16 && r == PublishResult::ok; ++sent) {
    for (auto& b : noise) {
      x = x * 1103515245u + 12345u;
      b = static_cast<uint8_t>(x >> 24);
    }
    r = hub.publish(st, noise.data(), noise.size(), sent);
  }
  BOOST_TEST((r == PublishResult::not_ts));
  BOOST_TEST(sent == 8);  // judged exactly at 64 KiB
  BOOST_TEST(st->stats().discarded_bytes > 32u * 1024u);
}

BOOST_AUTO_TEST_CASE(real_ts_passes_the_checks_and_a_flood_does_not) {
  HubConfig cfg = small_config();
  cfg.max_publish_bitrate_bps = 1000000;  // 1 Mbit/s, 2 s burst = 250 000 bytes
  StreamHub hub(cfg);
  FakePublisher pub;
  HubError err;
  Stream* st = hub.attach_publisher("cam1", &pub, "test", false, 0, err);
  test::TsBuilder b;
  // 100 KiB/s of TS for 5 s (800 kbit/s): fine.
  for (int i = 0; i < 50; ++i) {
    auto g = b.gop(1, 54);  // ~10 KiB
    BOOST_TEST_REQUIRE((hub.publish(st, g.data(), g.size(), i * 100) == PublishResult::ok));
  }
  // Then 1 MiB at once: beyond the burst.
  PublishResult r = PublishResult::ok;
  for (int i = 0; i < 100 && r == PublishResult::ok; ++i) {
    auto g = b.gop(1, 54);
    r = hub.publish(st, g.data(), g.size(), 5000);
  }
  BOOST_TEST((r == PublishResult::too_fast));
}
