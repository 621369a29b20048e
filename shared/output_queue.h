// The bounded queue between a producer that must never wait (the capture thread, the relay's
// service thread) and one output link's sender thread (see av_output_link.h).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "chunk.h"

namespace mpegcast {

/// Counters and fill level of one OutputQueue.
struct OutputQueueStats {
  size_t chunks = 0;            // queued now
  size_t bytes = 0;             // queued now
  int64_t queued_ms = 0;        // age span of what is queued (newest created_ms - oldest)
  uint64_t dropped_gops = 0;    // GOPs (or GOP tails) thrown away since construction
  uint64_t dropped_chunks = 0;
  uint64_t dropped_bytes = 0;
};

/// A bounded FIFO of chunks that drops whole GOPs when it overflows.
///
/// One producer (push, never blocks for long) and one consumer (pop). Invariants:
/// - the consumer receives a sequence of GOPs, each starting with a keyframe chunk; after a
///   drop or a restart() the next chunk it gets is a keyframe chunk;
/// - a GOP whose keyframe chunk the consumer has already taken is never cut short by an
///   overflow (its remaining chunks stay queued); other GOPs are dropped whole, oldest first,
///   and the GOP still being produced is dropped together with the rest of it as it arrives;
/// - the queue holds at most `max_ms` of video (by Chunk::created_ms) and `max_bytes`, plus at
///   most the tail of the GOP in flight.
class OutputQueue {
 public:
  /// `max_ms`: span of created_ms from oldest to newest chunk; `max_bytes`: payload bytes.
  OutputQueue(int64_t max_ms, size_t max_bytes);

  /// Producer: appends `chunk`, then drops GOPs while over a limit. `psi` is the stream's PAT +
  /// PMT (two TS packets) in force at this chunk, or null: it travels with the chunk, so a
  /// consumer that joins after a gap gets the PAT/PMT that belong to what it sends next.
  void push(ChunkPtr chunk, ChunkPtr psi = nullptr);

  enum class Pop { chunk, timeout, closed };
  /// Consumer: waits up to `timeout_ms` for the next chunk. `gap_before` is true when chunks
  /// were dropped (or restart() was called) since the previous pop: the receiver should get
  /// PAT/PMT before this chunk unless it starts with them. Returns closed once close() was
  /// called and nothing remains. `psi`, when given, receives the PAT + PMT pushed with `out`.
  Pop pop(ChunkPtr& out, bool& gap_before, int timeout_ms, ChunkPtr* psi = nullptr);

  /// Consumer, after (re)connecting: forgets everything older than the newest keyframe chunk
  /// (or everything, waiting for the next keyframe), so the peer starts with a fresh GOP.
  void restart();

  /// Drops everything queued (counted) and waits for the next keyframe chunk, e.g. while the
  /// link is paused, so that it does not start again with stale video.
  void clear();

  /// Producer is done: pop() drains what is queued, then returns closed.
  void close();
  /// Drops everything and makes pop() return closed at once.
  void abort();

  OutputQueueStats stats() const;

 private:
  void enforce_limits_locked();
  bool over_limit_locked() const;
  void drop_front_locked(size_t count);
  void drop_range_locked(size_t begin, size_t end);

  const int64_t max_ms_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Entry {
    ChunkPtr chunk;
    ChunkPtr psi;  // PAT + PMT in force at `chunk` (null: unknown)
  };
  std::deque<Entry> q_;
  size_t bytes_ = 0;
  bool need_keyframe_ = true;  // drop incoming chunks until a keyframe chunk
  bool gap_ = true;            // report gap_before on the next pop
  bool closed_ = false;
  OutputQueueStats stats_;
};

}  // namespace mpegcast
