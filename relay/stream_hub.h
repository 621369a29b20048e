// The stream hub: named streams, each with at most one publisher and any number of
// subscribers (viewers and downstream links), fed by one keyframe-aligned chunk ring per stream.
// Pure C++ (no libwebsockets types) so it is unit-testable; single-threaded by design: every
// call happens on the relay's one service thread.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chunk.h"
#include "ts_chunker.h"
#include "video_format.h"

namespace mpegcast::relay {

/// Limits and timings of the hub (relay.conf `hub` and `limits` groups).
struct HubConfig {
  size_t max_streams = 64;                   // streams with a publisher at once (publishers beyond: too_many_streams)
  size_t max_waiting_streams = 64;           // streams with viewers but no publisher (new ones beyond: too_many_streams)
  int64_t publisher_wait_ms = 30000;         // a subscriber of a stream that never had a publisher is closed after this
  size_t max_subscribers = 2000;             // over all streams
  size_t max_subscribers_per_stream = 1000;
  size_t gop_cache_max_bytes = 8 << 20;      // per stream: ring bytes cap
  int64_t max_lag_ms = 2000;                 // a subscriber further behind skips to the newest keyframe
  int64_t stall_timeout_s = 15;              // a subscriber with data pending and no progress is closed
  size_t max_chunk_bytes = 348 * 188;        // largest chunk the ingest cuts (whole TS packets, < 64 KiB)
  uint64_t max_publish_bitrate_bps = 20000000;  // per publisher, with a burst of 2 s worth
  size_t max_bytes_without_ts = 64 * 1024;   // a publisher whose first bytes are mostly not TS is refused
  int64_t coalesce_ms = 0;                   // >0: hold ingest up to this long to send bigger chunks (see TsChunker::set_hold_ms)
};

/// What StreamHub::publish() thought of the bytes.
enum class PublishResult {
  ok,
  not_ts,    // less than half of the first max_bytes_without_ts bytes were TS packets: close the publisher
  too_fast,  // above max_publish_bitrate_bps beyond the burst: close the publisher
};

/// Why the hub wants a subscriber gone.
enum class SubscriberClose {
  stalled,       // no progress for stall_timeout_s: the peer is not reading (reset, not a polite close)
  no_publisher,  // its stream has had no publisher for publisher_wait_ms since it joined (404 / WS 4404)
};
/// A short phrase for logs.
const char* to_string(SubscriberClose why);

/// Implemented by a transport that owns a subscriber (a WebSocket viewer, an HTTP-TS viewer, a push link).
class SubscriberOwner {
 public:
  virtual ~SubscriberOwner() = default;
  /// Data is ready: the transport calls Subscriber::next() now (writing at once when its socket
  /// has nothing pending) or soon (lws_callback_on_writable). It may call next() from inside
  /// wake(); it must not unsubscribe there.
  virtual void wake() = 0;
  /// How the subscriber takes the stream, for the API's per-egress counts: "websocket",
  /// "http-ts", "push" (a push link), … A static string.
  virtual const char* egress() const { return "other"; }
  /// The hub wants this subscriber gone (see SubscriberClose). The transport closes its
  /// connection and later calls StreamHub::unsubscribe(); the hub calls this once per subscriber.
  virtual void close(SubscriberClose why) = 0;
};

/// Implemented by a transport that owns a publisher.
class PublisherOwner {
 public:
  virtual ~PublisherOwner() = default;
  /// Another publisher took the stream over (takeover allowed): close this connection; the hub
  /// has already detached it.
  virtual void taken_over() = 0;
};

class Stream;

/// One subscriber's cursor into its stream's ring. Cache-line aligned: the fan-out loop touches
/// one line per subscriber.
class alignas(64) Subscriber {
 public:
  /// The next chunk to send, or nullptr when caught up (the owner is woken when data arrives).
  /// The pointer is valid until control returns to the hub's caller's event loop (the end of
  /// the current callback); the hub never mutates between next() and the transport's write.
  /// Skips to the newest keyframe when more than max_lag_ms behind or when the cursor's chunk
  /// was evicted (counted in skips()).
  const Chunk* next(int64_t now_ms);
  /// next() as a shared reference, for a transport that hands the chunk to another thread (the
  /// udp:// and srt:// push links' output queues): the chunk stays valid while it is held.
  ChunkPtr next_shared(int64_t now_ms);

  /// True when next() would return a chunk (cheap; for deciding whether to ask for another
  /// writable callback).
  bool has_data() const;

  /// How far behind the newest chunk this subscriber's next chunk is, in ms (0 when caught up).
  int64_t lag_ms() const;
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t skips() const { return skips_; }
  int64_t connected_ms() const { return connected_ms_; }
  Stream& stream() const { return *stream_; }
  SubscriberOwner* owner() const { return owner_; }

 private:
  friend class Stream;
  friend class StreamHub;
  const ChunkPtr* park();
  const ChunkPtr* next_entry(int64_t now_ms);
  Subscriber(Stream* stream, SubscriberOwner* owner, int64_t now_ms) : stream_(stream), owner_(owner), connected_ms_(now_ms), last_progress_ms_(now_ms) {}

  Stream* stream_;
  SubscriberOwner* owner_;
  uint64_t next_seq_ = 0;           // seq of the next chunk to send
  bool wait_keyframe_ = true;       // positioned at no chunk yet: start at the next/newest keyframe
  bool send_psi_ = false;           // send the PAT/PMT prefix before the chunk at next_seq_
  bool woken_ = false;              // wake() was called and next() has not run since
  bool parked_ = false;             // caught up: waiting for the next chunk (wake() then)
  bool closing_ = false;            // owner->close() was called
  int64_t connected_ms_;
  int64_t last_progress_ms_;
  uint64_t bytes_sent_ = 0;
  uint64_t skips_ = 0;
  size_t index_ = 0;                // position in Stream::subscribers_
};

/// The newest keyframe of a stream as shared chunks (no copy), for a decoder on another thread:
/// chunks are immutable once published, so a worker may read their payload while the service
/// thread goes on (it must not touch their headroom).
struct KeyframeChunks {
  uint64_t seq = 0;              // the keyframe chunk's sequence number (the snapshot cache key)
  ChunkPtr psi;                  // PAT + PMT (null when the stream has none yet)
  std::vector<ChunkPtr> chunks;  // the keyframe chunk, then the chunks after it (within the byte cap)
  size_t bytes = 0;              // payload bytes of `chunks`
  bool followed = false;         // a chunk after the keyframe chunk exists: its picture is complete
};

/// Counters of a stream, for the API and metrics.
struct StreamStats {
  std::string name;
  bool has_publisher = false;
  std::string publisher;             // peer address of the publisher ("" when none)
  std::string publisher_kind;        // "connection", "push" (from an upstream relay) or "pull" ("" when none)
  std::vector<std::string> via;      // relays the publisher's data passed, upstream first
  int64_t publisher_since_s = 0;     // wall clock, seconds since the epoch
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;            // to all subscribers
  uint64_t bitrate_in_bps = 0;       // over the last 5 s
  uint64_t bitrate_out_bps = 0;      // over the last 5 s, all subscribers together
  int64_t created_s = 0;             // wall clock, when the stream appeared on this relay
  VideoFormat video;                 // from the newest keyframe's sequence header / SPS
  std::string audio_codec;           // from the PMT ("" when none)
  std::map<std::string, size_t> subscribers_by_egress;  // "websocket" → 3, "http-ts" → 1, "push" → 2
  size_t subscribers = 0;
  uint64_t chunks = 0;
  uint64_t keyframes = 0;
  uint64_t discarded_bytes = 0;      // bytes skipped to resync on TS packets
  uint64_t resyncs = 0;              // times TS packet sync was lost and found again
  std::string publisher_protocol;    // "http", "websocket", "tcp", "udp" ("" when none)
  uint64_t cc_errors = 0;
  uint64_t lag_skips = 0;            // subscribers that skipped ahead to a keyframe
  uint64_t stalls = 0;               // subscribers closed for making no progress
  uint64_t publishers_total = 0;     // publisher sessions since the stream was created
  size_t cache_bytes = 0;            // bytes held in the ring
  size_t cache_chunks = 0;
  int64_t gop_ms = 0;                // duration of the last complete GOP
  uint8_t video_stream_type = 0;
  std::optional<SourceSignal> source;  // the capture agent's in-band source state (live / slate), if it sends one
};

/// A named stream: one publisher, the chunk ring, its subscribers.
class Stream {
 public:
  Stream(std::string name, const HubConfig& config);
  const std::string& name() const { return name_; }
  bool has_publisher() const { return publisher_ != nullptr; }
  /// True once the current publisher has proven to send a stream: its first max_bytes_without_ts
  /// bytes were mostly TS, or a keyframe arrived. Before that a publisher is still a request (the
  /// ingest gives it a start deadline instead of the silence timeout).
  bool publisher_started() const { return publisher_ && (publisher_verified_ || newest_keyframe_seq_ != 0); }
  /// True when a publisher attached since the stream was created.
  bool ever_published() const { return publishers_total_ > 0; }
  size_t subscriber_count() const { return subscribers_.size(); }
  StreamStats stats() const;
  /// Newest chunk's sequence number (0 before any).
  uint64_t newest_seq() const { return ring_.empty() ? 0 : ring_.back()->seq; }
  /// The current publisher's PAT + PMT as one chunk (null before both arrived). Never changed once
  /// made (a new PAT/PMT makes a new chunk), so another thread may keep and send it.
  ChunkPtr psi() const { return psi_; }
  /// Sequence number of the newest keyframe chunk in the ring (0: none).
  uint64_t newest_keyframe_seq() const { return newest_keyframe_seq_; }
  /// The newest keyframe chunk and the chunks after it while their payload stays within
  /// `max_bytes` (the keyframe chunk alone may exceed it: the caller decides), plus PAT/PMT.
  /// seq 0 when the ring holds no keyframe.
  KeyframeChunks newest_keyframe(size_t max_bytes) const;
  /// Relays the current publisher's data passed (X-Mpegcast-Via, upstream first); set by the ingest after attach_publisher, empty for a direct publisher. Push links send it plus their node id.
  std::vector<std::string> via;
  /// Relays the request of the subscriber that made the demand passed (a downstream pull), for
  /// a pull link to send upstream so that a pull loop is refused. Empty for a local viewer.
  std::vector<std::string> demand_via;
  /// How the current publisher reaches the relay, for the API: "connection" (a publisher's own
  /// connection), "push" (a push link of an upstream relay), "pull" (this relay's pull link).
  std::string publisher_kind;
  /// The protocol the publisher uses: "http", "websocket", "tcp", "udp" (set with publisher_kind).
  std::string publisher_protocol;

 private:
  friend class StreamHub;
  friend class Subscriber;
  void on_chunk(std::shared_ptr<Chunk> chunk);
  void evict();
  const ChunkPtr* entry(uint64_t seq) const;
  const Chunk* at(uint64_t seq) const;
  bool position_at_newest_keyframe(Subscriber& s);
  void rebuild_psi();
  void update_bitrate(int64_t now_ms);

  std::string name_;
  const HubConfig& config_;
  PublisherOwner* publisher_ = nullptr;
  std::string publisher_peer_;
  int64_t publisher_since_s_ = 0;
  int64_t last_input_ms_ = 0;
  TsChunker chunker_;
  std::deque<ChunkPtr> ring_;
  size_t ring_bytes_ = 0;
  uint64_t newest_keyframe_seq_ = 0;  // 0: no keyframe in the ring
  int64_t gop_ms_ = 0;
  ChunkPtr psi_;                      // PAT + PMT prefix for new subscribers (a new chunk per change)
  uint64_t psi_version_ = UINT64_MAX;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;  // owned; Subscriber::index_ is the position
  std::vector<Subscriber*> parked_;   // subscribers waiting for data (wake on next chunk)
  std::vector<Subscriber*> waking_;   // parked_ being woken (swapped out while owners run)
  uint64_t publisher_bytes_ = 0;       // since the current publisher attached
  uint64_t publisher_packets_start_ = 0;  // chunker packet count when it attached
  bool publisher_verified_ = false;     // its first max_bytes_without_ts bytes were mostly TS
  double rate_tokens_bytes_ = 0;       // token bucket for max_publish_bitrate_bps
  int64_t rate_tokens_ms_ = 0;
  uint64_t bytes_in_ = 0, lag_skips_ = 0, stalls_ = 0, publishers_total_ = 0;
  uint64_t bytes_out_ = 0;
  /// Totals sampled once a second (hub tick): bit rates over the last 5 s come from them.
  struct RateSample {
    int64_t ms = 0;
    uint64_t in = 0, out = 0;
  };
  RateSample rate_samples_[6];
  size_t rate_next_ = 0;
  uint64_t bitrate_in_bps_ = 0, bitrate_out_bps_ = 0;
  int64_t created_s_ = 0;
  VideoFormat video_format_;
};

/// Why subscribe() or attach_publisher() refused.
enum class HubError { none, bad_name, stream_busy, too_many_streams, too_many_subscribers, stream_full };
/// A short phrase for logs and HTTP reasons.
const char* to_string(HubError e);
const char* to_string(PublishResult r);

/// All streams of one relay.
class StreamHub {
 public:
  explicit StreamHub(HubConfig config);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  /// Makes `owner` the publisher of stream `name` (created if needed). Refuses with
  /// stream_busy when it has a publisher, unless `allow_takeover` (then the old owner is told
  /// taken_over() and detached), and with too_many_streams when max_streams streams already have
  /// a publisher (streams that only have waiting viewers never count: viewers cannot take a
  /// publisher's place). `peer` is the publisher's address for logs and the API.
  Stream* attach_publisher(const std::string& name, PublisherOwner* owner, const std::string& peer,
                           bool allow_takeover, int64_t now_ms, HubError& error);
  /// Feeds `len` bytes of the publisher's TS into the stream (any alignment; garbage is skipped
  /// and counted). Anything but ok means the transport should close the publisher and log why.
  PublishResult publish(Stream* stream, const uint8_t* data, size_t len, int64_t now_ms);
  /// The publisher left; subscribers stay and resume at the next publisher's first keyframe.
  void detach_publisher(Stream* stream, PublisherOwner* owner);

  /// Adds a subscriber to `name` (created if needed, so viewers may wait for a publisher; at most
  /// max_waiting_streams streams exist without a publisher, and a subscriber of a stream that
  /// never had one is closed with SubscriberClose::no_publisher after publisher_wait_ms).
  /// The transport then calls Subscriber::next() from its writable callback until it returns
  /// nullptr; after that the hub calls owner->wake() when there is more.
  /// Returns nullptr with `error` set when a limit is reached or the name is invalid.
  /// `via`: the relays a downstream pull request passed (its X-Mpegcast-Via); kept as the
  /// stream's demand_via when this subscriber makes the demand (a pull link sends it upstream).
  Subscriber* subscribe(const std::string& name, SubscriberOwner* owner, int64_t now_ms, HubError& error,
                        const std::vector<std::string>* via = nullptr);
  /// Removes the subscriber (it must not be used afterwards).
  void unsubscribe(Subscriber* subscriber);
  /// Sends every subscriber of `name` away with SubscriberClose::no_publisher (a pull found no
  /// upstream with the stream). Does nothing when the stream has a publisher.
  void refuse_waiting(const std::string& name);

  /// With coalesce_ms > 0: emits the chunks that have waited coalesce_ms (and wakes their
  /// subscribers). Call at the time set_flush_scheduler's callback asked for.
  void flush_due(int64_t now_ms);
  /// The earliest CLOCK_MONOTONIC ms a held chunk is due (-1: nothing held).
  int64_t next_flush_due_ms() const;
  /// With coalesce_ms > 0: `schedule(due_ms)` is called when publish() starts holding a chunk,
  /// so the transport can arrange a flush_due() call at that time (one timer, no polling).
  void set_flush_scheduler(std::function<void(int64_t due_ms)> schedule) { flush_scheduler_ = std::move(schedule); }

  /// Demand: `handler(stream, wanted)` runs when a stream gains its first subscriber (wanted) or
  /// loses its last (not wanted), viewers and links alike. Pull-on-demand links and the capture
  /// agent's demand signal hang off it; the hub stays transport-free. A handler may not subscribe
  /// or unsubscribe from inside the call (schedule that instead). Handlers run in the order added.
  void add_demand_handler(std::function<void(const std::string& stream, bool wanted)> handler) {
    demand_handlers_.push_back(std::move(handler));
  }

  /// Once a second or so: closes stalled subscribers and those that waited publisher_wait_ms for
  /// a stream that never had a publisher, updates bitrates, removes streams that have neither
  /// publisher nor subscribers.
  void tick(int64_t now_ms);

  Stream* find(const std::string& name) const;
  std::vector<StreamStats> stats() const;
  size_t stream_count() const { return streams_.size(); }
  /// Streams with a publisher now (max_streams applies to these).
  size_t published_stream_count() const { return published_streams_; }
  size_t subscriber_count() const { return subscriber_total_; }
  const HubConfig& config() const { return config_; }

 private:
  Stream* get_or_create(const std::string& name, size_t max_waiting, HubError& error);
  HubConfig config_;
  std::map<std::string, std::unique_ptr<Stream>> streams_;
  size_t published_streams_ = 0;  // streams with a publisher (the rest are waiting)
  std::vector<std::function<void(const std::string&, bool)>> demand_handlers_;
  void demand_changed(const std::string& stream, bool wanted) {
    for (auto& h : demand_handlers_) h(stream, wanted);
  }
  size_t subscriber_total_ = 0;
  std::function<void(int64_t)> flush_scheduler_;
};

}  // namespace mpegcast::relay
