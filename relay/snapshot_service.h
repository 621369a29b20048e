// GET /live/<stream>.jpg on the service thread: a cache of JPEGs per stream for its newest
// keyframe (by keyframe sequence number and width), a bounded queue of requests waiting for the
// worker per stream, at most one job per stream at the worker, and the counters. No
// libwebsockets types: a waiting request is a SnapshotWaiter (see snapshot_request.h).
//
// A hundred requests within one GOP cost one decode: the first starts a job, the rest wait for
// it (or find its JPEG in the cache); a request for another width of a cached keyframe costs a
// scale and an encode (the worker keeps the decoded picture). While the newest keyframe has no
// chunk after it yet (its picture may still be arriving), the previous keyframe's JPEG is served
// when there is one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snapshot_worker.h"
#include "stream_hub.h"

namespace mpegcast::relay {

/// relay.conf `snapshot` group.
struct SnapshotConfig {
  size_t max_waiting = 256;               // per stream: requests waiting for the worker; more get 503
  size_t max_input_bytes = 2 << 20;       // bytes of TS handed to the decoder; a bigger keyframe chunk: 503
};

/// The answer to one snapshot request.
struct SnapshotAnswer {
  int status = 200;                         // 200, 404 (no stream / no keyframe), 500, 503
  std::shared_ptr<const std::string> jpeg;  // the body when 200
  std::string message;                      // the text body otherwise
};

/// Counters for /api/v1/node and /metrics (monotonic since start).
struct SnapshotStats {
  uint64_t requests = 0;   // GET /live/<stream>.jpg with a valid name
  uint64_t decodes = 0;    // keyframes decoded by the worker
  uint64_t encodes = 0;    // JPEGs encoded
  uint64_t cache_hits = 0; // answered from the cache at once
  uint64_t refused = 0;    // 503: queue full, keyframe too large
  uint64_t failures = 0;   // 500: the keyframe did not decode / encode
};

/// A request waiting for a JPEG (lives in lws per-session storage, see snapshot_request.h).
class SnapshotWaiter {
 public:
  virtual ~SnapshotWaiter() = default;
  /// The answer is here: store it and arrange the write (service thread; must not call back into
  /// the service).
  virtual void snapshot_done(const SnapshotAnswer& answer) = 0;
};

class SnapshotService {
 public:
  /// `wake`: wakes the service loop from the worker thread (lws_cancel_service).
  SnapshotService(SnapshotConfig config, std::function<void()> wake);
  ~SnapshotService();
  SnapshotService(const SnapshotService&) = delete;
  SnapshotService& operator=(const SnapshotService&) = delete;

  /// A request for stream `name` at `width` (0: the picture's own width). Returns the answer
  /// when there is one at once (cached JPEG, 404, 503), or nullopt when `waiter` was queued:
  /// it then gets snapshot_done() from a later deliver(), unless forget(waiter) came first.
  std::optional<SnapshotAnswer> request(const StreamHub& hub, const std::string& name, int width, SnapshotWaiter* waiter);
  /// Drops `waiter` from every queue (its connection closed). Safe for a waiter not queued.
  void forget(SnapshotWaiter* waiter);
  /// Takes the worker's results: caches them, answers the waiters, starts the next jobs.
  /// Service thread, on LWS_CALLBACK_EVENT_WAIT_CANCELLED.
  void deliver(const StreamHub& hub);
  /// Stops and joins the worker (before the lws context, whose loop `wake` wakes, is destroyed).
  void stop() { worker_.stop(); }

  const SnapshotStats& stats() const { return stats_; }
  const SnapshotConfig& config() const { return config_; }

 private:
  struct Waiting {
    SnapshotWaiter* waiter;
    int width;
  };
  struct Entry {
    uint64_t cached_seq = 0;                                // keyframe of the cached JPEGs
    std::map<int, std::shared_ptr<const std::string>> jpegs;  // by asked width
    bool busy = false;                                      // a job of this stream is at the worker
    std::vector<Waiting> waiting;
  };
  static constexpr size_t kMaxWidthsCached = 8;

  std::shared_ptr<const std::string> cached(const Entry& e, uint64_t seq, int width) const;
  void start_job(const std::string& name, Entry& e, const Stream& stream);
  void answer(Entry& e, int width, const SnapshotAnswer& a);
  void drop_idle_entries(const StreamHub& hub);

  SnapshotConfig config_;
  SnapshotStats stats_;
  std::map<std::string, Entry> entries_;
  SnapshotWorker worker_;  // last: its thread stops before the rest goes
};

}  // namespace mpegcast::relay
