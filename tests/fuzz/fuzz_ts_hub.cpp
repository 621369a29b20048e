// fuzz_ts_hub: the TS ingest path of the relay, bytes → StreamHub::publish() → TsAligner →
// KeyframeDetector (PAT/PMT/PES parsing) → TsChunker → the GOP ring → subscribers. The input's
// front is the publisher's byte stream, its end the script (see fuzz_input.h): the hub's limits
// (small GOP cache, max_lag_ms, max_chunk_bytes, coalescing), then operations: publish the next
// piece of the stream after a clock step, tick(), a publisher restart or takeover
// (attach_publisher), detach_publisher, viewers joining and leaving mid-way, a lagging viewer that
// reads only now and then, flush_due(). A reference viewer, subscribed before every publisher
// session and reading on every wake, is compared byte for byte with what a separate TsAligner
// makes of the same bytes. Asserted: every chunk is whole 188-byte packets starting with 0x47 and
// no bigger than max_chunk_bytes; a viewer's first chunk after joining or skipping is a keyframe
// chunk or the PAT/PMT prefix, and starts with a PAT once the stream has had PAT and PMT; chunk
// sequence numbers are consecutive between skips; the reference viewer gets every valid packet
// from its first keyframe on, in order, unchanged; wake() is not repeated before next() and never
// follows close(); has_data() false means next() gives nothing; the ring stays within
// gop_cache_max_bytes (or one chunk); counters never go backwards.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "keyframe_detector.h"
#include "log.h"
#include "stream_hub.h"
#include "ts_packet.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

constexpr const char* kStream = "cam1";

bool starts_with_pat(const Chunk* c) {
  TsHeader h;
  return c->size() >= kTsPacketSize && parse_ts_header(c->data(), h) && h.pid == kPidPat && h.payload_unit_start;
}

/// What the publisher fed since its attach, as a second TsAligner sees it, and what the reference
/// viewer received of it.
struct Truth {
  TsAligner aligner;
  std::string packets;           // every packet the chunker must keep (header parses), in order
  std::string ref_stream;        // what the reference viewer got since the session began (no PSI prefix)
  struct RefChunk {
    uint64_t seq;
    bool keyframe;
    size_t end;                  // offset in ref_stream after the chunk
  };
  std::vector<RefChunk> ref_chunks;  // received, not yet placed in `packets`
  size_t ref_base = SIZE_MAX;    // offset in `packets` of ref_stream[0], once known
  size_t verified = 0;           // bytes of ref_stream compared with `packets`
  KeyframeDetector detector;     // PAT/PMT seen in `packets` up to detector_pos
  size_t detector_pos = 0;
  bool pat = false, pmt = false;
  std::map<uint64_t, bool> psi_at_keyframe;  // keyframe chunk seq → PAT and PMT had been fed by its end

  void feed(const uint8_t* data, size_t len) {
    aligner.feed(data, len, [this](const uint8_t* p, size_t count) {
      for (size_t i = 0; i < count; ++i, p += kTsPacketSize) {
        TsHeader h;
        if (parse_ts_header(p, h)) packets.append(reinterpret_cast<const char*>(p), kTsPacketSize);
      }
    });
  }

  void advance_detector(size_t to) {
    for (; detector_pos + kTsPacketSize <= to; detector_pos += kTsPacketSize) {
      const TsPacketKind k = detector.inspect(reinterpret_cast<const uint8_t*>(packets.data()) + detector_pos);
      pat = pat || k.pat;
      pmt = pmt || k.pmt;
    }
  }

  /// With the chunker holding nothing back: the reference viewer must have everything from its
  /// first chunk to the end of `packets`.
  void verify_caught_up() {
    if (ref_stream.empty()) return;
    FUZZ_CHECK(ref_stream.size() <= packets.size());
    const size_t base = packets.size() - ref_stream.size();
    if (ref_base == SIZE_MAX) ref_base = base;
    FUZZ_CHECK(base == ref_base);  // nothing lost, nothing added since the last check
    FUZZ_CHECK(base % kTsPacketSize == 0);
    FUZZ_CHECK(packets.compare(base + verified, std::string::npos, ref_stream, verified, std::string::npos) == 0);
    verified = ref_stream.size();
    for (const RefChunk& c : ref_chunks) {
      advance_detector(base + c.end);
      if (c.keyframe) psi_at_keyframe[c.seq] = pat && pmt;
    }
    ref_chunks.clear();
  }
};

struct Fixture;

/// A viewer: reads on every wake (eager) or only when the script says so (lazy).
class Viewer : public SubscriberOwner {
 public:
  Viewer(Fixture& f, bool eager, bool reference) : f_(f), eager_(eager), reference_(reference) {}
  void wake() override;
  void close(SubscriberClose) override {
    FUZZ_CHECK(!close_asked_);
    close_asked_ = true;
  }
  /// Calls next() up to `max_chunks` times (until it returns nullptr), checking each chunk.
  void read(size_t max_chunks);
  /// A (re)positioning is due: after joining and after a publisher (re)start.
  void expect_start() {
    expect_ = Expect::start;
    last_seq_ = 0;
  }
  void subscribed(Subscriber* s) {
    sub_ = s;
    woken_ = false;
    close_asked_ = false;
    bytes_sent_ = skips_ = 0;
    expect_start();
  }
  Subscriber* sub() const { return sub_; }
  bool close_asked() const { return close_asked_; }
  void gone() { sub_ = nullptr; }

 private:
  enum class Expect { none, start, after_prefix };
  void check_chunk(const Chunk* c, bool skipped);

  Fixture& f_;
  const bool eager_;
  const bool reference_;
  Subscriber* sub_ = nullptr;
  bool woken_ = false;
  bool close_asked_ = false;
  Expect expect_ = Expect::start;
  uint64_t last_seq_ = 0;
  uint64_t bytes_sent_ = 0, skips_ = 0;
};

struct Publisher : PublisherOwner {
  bool taken = false;
  void taken_over() override { taken = true; }
};

struct Fixture {
  HubConfig config;
  std::unique_ptr<StreamHub> hub;
  int64_t now = 1000;
  Stream* stream = nullptr;        // kStream, while the harness may use the pointer
  Publisher publishers[2];
  Publisher* publisher = nullptr;  // attached one
  Truth truth;
  std::unique_ptr<Viewer> viewers[6];  // [0]: the reference viewer, subscribed for the whole run
  std::vector<uint64_t> pat_checks;    // keyframe chunks some viewer started at without a PAT in front
  StreamStats last_stats;
  Subscriber* waiting = nullptr;       // a viewer of a stream nobody publishes
  Viewer waiting_owner{*this, false, false};

  void settle();
  void check_stats();
};

void Viewer::wake() {
  FUZZ_CHECK(sub_ != nullptr);
  FUZZ_CHECK(!close_asked_);  // never woken after the hub asked for the close
  FUZZ_CHECK(!woken_);        // woken once until next() runs
  woken_ = true;
  if (eager_) read(SIZE_MAX);
}

void Viewer::read(size_t max_chunks) {
  for (size_t i = 0; i < max_chunks; ++i) {
    const bool had_data = sub_->has_data();
    woken_ = false;
    const Chunk* c = sub_->next(f_.now);
    FUZZ_CHECK(had_data || c == nullptr);  // has_data() false: a transport would not ask
    FUZZ_CHECK(sub_->skips() >= skips_);
    const bool skipped = sub_->skips() > skips_;
    skips_ = sub_->skips();
    if (skipped) expect_ = Expect::start;
    FUZZ_CHECK(sub_->lag_ms() >= 0);
    if (!c) {
      FUZZ_CHECK(sub_->bytes_sent() == bytes_sent_);
      return;
    }
    FUZZ_CHECK(sub_->bytes_sent() == bytes_sent_ + c->size());
    bytes_sent_ = sub_->bytes_sent();
    check_chunk(c, skipped);
  }
}

void Viewer::check_chunk(const Chunk* c, bool skipped) {
  FUZZ_CHECK(!c->empty());
  FUZZ_CHECK(c->size() % kTsPacketSize == 0);
  for (size_t off = 0; off < c->size(); off += kTsPacketSize) FUZZ_CHECK(c->data()[off] == kTsSyncByte);
  const bool prefix = c->seq == 0;  // the stored PAT + PMT in front of a keyframe chunk
  if (prefix) {
    FUZZ_CHECK(expect_ != Expect::none);  // only ever in front of the first chunk after (re)positioning
    FUZZ_CHECK(c->size() == 2 * kTsPacketSize);
    FUZZ_CHECK(starts_with_pat(c));
    expect_ = Expect::after_prefix;
    return;
  }
  const size_t max_chunk = f_.config.max_chunk_bytes < kTsPacketSize ? kTsPacketSize : f_.config.max_chunk_bytes;
  FUZZ_CHECK(c->size() <= max_chunk);
  if (expect_ == Expect::none) {
    FUZZ_CHECK(!skipped);
    FUZZ_CHECK(c->seq == last_seq_ + 1);  // no chunk left out between skips
  } else {
    FUZZ_CHECK(c->keyframe);  // a viewer starts at a keyframe
    FUZZ_CHECK(c->seq > last_seq_);
    if (expect_ == Expect::start && !starts_with_pat(c)) f_.pat_checks.push_back(c->seq);
  }
  expect_ = Expect::none;
  last_seq_ = c->seq;
  if (reference_) {
    Truth& t = f_.truth;
    t.ref_stream.append(reinterpret_cast<const char*>(c->data()), c->size());
    t.ref_chunks.push_back({c->seq, c->keyframe, t.ref_stream.size()});
  }
}

/// After every operation: places what the reference viewer got, then judges the PAT checks.
void Fixture::settle() {
  if (hub->next_flush_due_ms() < 0) truth.verify_caught_up();
  std::vector<uint64_t> later;
  for (uint64_t seq : pat_checks) {
    auto it = truth.psi_at_keyframe.find(seq);
    if (it == truth.psi_at_keyframe.end()) {
      if (!truth.ref_chunks.empty()) later.push_back(seq);  // not placed yet (coalescing holds data)
      continue;
    }
    // The stream had PAT and PMT when this keyframe chunk was cut: a joining viewer needs them first.
    FUZZ_CHECK(!it->second);
  }
  pat_checks.swap(later);
  check_stats();
}

void Fixture::check_stats() {
  FUZZ_CHECK(hub->find(kStream) == stream || stream == nullptr);
  Stream* st = hub->find(kStream);
  if (!st) return;
  const StreamStats s = st->stats();
  const StreamStats& p = last_stats;
  FUZZ_CHECK(s.bytes_in >= p.bytes_in && s.chunks >= p.chunks && s.keyframes >= p.keyframes);
  FUZZ_CHECK(s.discarded_bytes >= p.discarded_bytes && s.cc_errors >= p.cc_errors);
  FUZZ_CHECK(s.lag_skips >= p.lag_skips && s.stalls >= p.stalls && s.publishers_total >= p.publishers_total);
  FUZZ_CHECK(s.cache_bytes <= config.gop_cache_max_bytes || s.cache_chunks <= 1);
  FUZZ_CHECK(s.has_publisher == (publisher != nullptr));
  size_t subs = 0;
  for (const auto& v : viewers) subs += v && v->sub() ? 1 : 0;
  FUZZ_CHECK(s.subscribers == subs);
  FUZZ_CHECK(hub->subscriber_count() == subs + (waiting ? 1 : 0));
  last_stats = s;
}

HubConfig config_from(fuzz::FuzzInput& in) {
  HubConfig c;
  c.max_streams = 2;
  c.max_subscribers = in.range(3, 8);
  c.max_subscribers_per_stream = in.range(2, 6);
  c.gop_cache_max_bytes = kTsPacketSize * in.range(1, 400);
  c.max_lag_ms = static_cast<int64_t>(in.range(0, 3000));
  c.stall_timeout_s = 1;
  c.max_chunk_bytes = in.range(1, 64 * kTsPacketSize);
  c.max_publish_bitrate_bps = in.u8() < 16 ? 200000 : 1000000000;
  c.max_bytes_without_ts = in.range(kTsPacketSize, 64 * 1024);
  c.coalesce_ms = in.u8() < 48 ? static_cast<int64_t>(in.range(1, 200)) : 0;
  return c;
}

void attach(Fixture& f, fuzz::FuzzInput& in) {
  Publisher* next = &f.publishers[in.u8() & 1];
  const bool takeover = in.flag();
  Publisher* old = f.publisher;
  f.settle();  // (a restart drops what coalescing still holds of the old publisher's stream)
  HubError err = HubError::none;
  Stream* st = f.hub->attach_publisher(kStream, next, "fuzz", takeover, f.now, err);
  if (old && !takeover) {
    FUZZ_CHECK(st == nullptr && err == HubError::stream_busy);
    return;
  }
  FUZZ_CHECK(st != nullptr && err == HubError::none);
  FUZZ_CHECK(old == nullptr || old->taken);  // the replaced publisher was told
  for (Publisher& p : f.publishers) p.taken = false;
  f.stream = st;
  f.publisher = next;
  // A new TS: the old session's data is gone and every viewer waits for a new keyframe.
  f.truth = Truth();
  f.pat_checks.clear();
  for (auto& v : f.viewers) {
    if (v && v->sub()) v->expect_start();
  }
}

void publish(Fixture& f, fuzz::FuzzInput& in) {
  const size_t want = in.range(1, 8 * 1024);
  f.now += static_cast<int64_t>(in.u8()) * (in.u8() < 32 ? 20 : 1);
  const uint8_t* piece = nullptr;
  const size_t n = in.bytes(want, piece);
  if (!f.publisher || n == 0) return;
  const PublishResult r = f.hub->publish(f.stream, piece, n, f.now);
  if (r != PublishResult::too_fast) f.truth.feed(piece, n);  // too_fast: refused before parsing
  if (r != PublishResult::ok) {  // the transport closes the publisher
    f.hub->detach_publisher(f.stream, f.publisher);
    f.publisher = nullptr;
  }
}

void join(Fixture& f, fuzz::FuzzInput& in) {
  const size_t slot = in.range(1, 5);
  auto& v = f.viewers[slot];
  if (v && v->sub()) return;
  v = std::make_unique<Viewer>(f, in.flag(), false);
  HubError err = HubError::none;
  Subscriber* s = f.hub->subscribe(kStream, v.get(), f.now, err);
  FUZZ_CHECK((s != nullptr) == (err == HubError::none));
  if (!s) {
    FUZZ_CHECK(err == HubError::stream_full || err == HubError::too_many_subscribers);
    return;
  }
  if (!f.stream) f.stream = f.hub->find(kStream);
  v->subscribed(s);
  v->read(SIZE_MAX);  // the transport's first writable callback
}

void leave(Fixture& f, Viewer& v) {
  f.hub->unsubscribe(v.sub());
  v.gone();
}

void tick(Fixture& f, fuzz::FuzzInput& in) {
  f.now += static_cast<int64_t>(in.range(0, 2500));
  f.hub->tick(f.now);
  for (auto& v : f.viewers) {
    if (v && v->sub() && v->close_asked()) leave(f, *v);  // the transport closes, then unsubscribes
  }
  if (f.waiting_owner.close_asked()) {
    f.hub->unsubscribe(f.waiting);
    f.waiting = nullptr;
    f.waiting_owner.gone();
  }
  if (!f.hub->find(kStream)) {  // removed: no publisher, no viewer
    f.stream = nullptr;
    f.last_stats = StreamStats();
  }
}

/// A viewer of another stream (created by subscribing, removed by tick() once alone), and
/// subscribe() refusing bad names.
void other_stream(Fixture& f, fuzz::FuzzInput& in) {
  HubError err = HubError::none;
  FUZZ_CHECK(f.hub->subscribe("bad name", &f.waiting_owner, f.now, err) == nullptr);
  FUZZ_CHECK(err == HubError::bad_name || err == HubError::too_many_subscribers);
  if (f.waiting) {
    f.hub->unsubscribe(f.waiting);
    f.waiting = nullptr;
    f.waiting_owner.gone();
    return;
  }
  f.waiting = f.hub->subscribe(in.flag() ? "cam2" : "cam3", &f.waiting_owner, f.now, err);
  if (f.waiting) f.waiting_owner.subscribed(f.waiting);
}

void run(fuzz::FuzzInput& in) {
  Fixture f;
  f.config = config_from(in);
  f.hub = std::make_unique<StreamHub>(f.config);
  f.viewers[0] = std::make_unique<Viewer>(f, true, true);
  HubError err = HubError::none;
  Subscriber* ref = f.hub->subscribe(kStream, f.viewers[0].get(), f.now, err);
  FUZZ_CHECK(ref != nullptr);
  f.viewers[0]->subscribed(ref);
  f.viewers[0]->read(SIZE_MAX);
  f.stream = f.hub->find(kStream);
  attach(f, in);
  while (in.remaining() > 0) {
    const uint8_t op = in.u8() % 16;
    if (op < 8) {
      publish(f, in);
    } else if (op == 8) {
      tick(f, in);
    } else if (op == 9) {
      attach(f, in);
    } else if (op == 10) {
      // The transport's detach; a stranger's detach is ignored.
      f.hub->detach_publisher(f.stream, in.flag() ? &f.publishers[0] : &f.publishers[1]);
      if (f.stream && !f.stream->has_publisher()) f.publisher = nullptr;
    } else if (op == 11) {
      join(f, in);
    } else if (op == 12) {
      const size_t slot = in.range(1, 5);
      if (f.viewers[slot] && f.viewers[slot]->sub()) leave(f, *f.viewers[slot]);
    } else if (op == 13) {
      const size_t slot = in.range(1, 5);
      if (f.viewers[slot] && f.viewers[slot]->sub() && !f.viewers[slot]->close_asked()) {
        f.viewers[slot]->read(in.range(1, 8));
      }
    } else if (op == 14) {
      f.now += static_cast<int64_t>(in.range(0, 250));
      f.hub->flush_due(f.now);
    } else {
      other_stream(f, in);
    }
    f.settle();
  }
  f.hub->flush_due(f.now + 1000);
  f.settle();
  // A stream's ring must not hold more than its cap, whatever the subscribers did.
  FUZZ_CHECK(f.hub->stats().size() <= f.config.max_streams);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    set_log_level(LogLevel::err);  // takeovers log a notice each
    return true;
  }();
  (void)quiet;
  fuzz::FuzzInput in(data, size);
  run(in);
  return 0;
}
