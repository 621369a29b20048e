// Cuts a byte stream into keyframe-aligned chunks of whole TS packets.
#pragma once
#include <array>
#include <cstdint>
#include <cstdint>
#include <functional>
#include <optional>

#include "chunk.h"
#include "clock.h"
#include "keyframe_detector.h"
#include "source_signal.h"
#include "ts_packet.h"

namespace mpegcast {

/// Counters of one TsChunker (all since construction).
struct TsChunkerStats {
  uint64_t bytes_in = 0;           // bytes fed
  uint64_t packets = 0;            // aligned TS packets
  uint64_t discarded_bytes = 0;    // bytes skipped by resync
  uint64_t sync_losses = 0;        // times sync was lost after being acquired
  uint64_t keyframes = 0;          // keyframe starts seen
  uint64_t cc_errors = 0;          // continuity_counter discontinuities (ISO/IEC 13818-1 §2.4.3.3)
  uint64_t chunks = 0;             // chunks emitted
};

/// Re-aligns bytes to TS packets (TsAligner), classifies them (KeyframeDetector) and emits
/// chunks: a new chunk starts at every keyframe (together with the PAT/PMT packets directly in
/// front of it, as FFmpeg's mpegts muxer writes them, so a keyframe chunk is self-contained), and everything buffered is emitted at the end
/// of each feed() so no latency is added. A chunk holds at most `max_chunk_bytes` (rounded down
/// to whole packets). Keeps a copy of the last PAT and PMT packets.
class TsChunker {
 public:
  using Sink = std::function<void(std::shared_ptr<Chunk>)>;

  explicit TsChunker(size_t max_chunk_bytes = 32 * kTsPacketSize);

  /// Feeds bytes; calls `sink` with each finished chunk (seq and keyframe set; created_ms = now).
  void feed(const uint8_t* data, size_t len, const Sink& sink) { feed(data, len, now_ms(), sink); }
  /// Same, with the arrival time (CLOCK_MONOTONIC ms) stamped on the chunks.
  void feed(const uint8_t* data, size_t len, int64_t arrival_ms, const Sink& sink);

  /// Coalescing (relay.conf hub.coalesce_ms): with `hold_ms` > 0, feed() no longer emits what it
  /// buffered at its end; a chunk is emitted once its first byte is `hold_ms` old (checked at
  /// each feed() and by flush_due()), when it is full, or when a keyframe starts. 0 = emit at
  /// the end of every feed() (no added latency).
  void set_hold_ms(int64_t hold_ms) { hold_ms_ = hold_ms < 0 ? 0 : hold_ms; }
  /// Emits the buffered chunk if coalescing holds one whose first byte arrived `hold_ms` or
  /// more before `now_ms` (CLOCK_MONOTONIC ms).
  void flush_due(int64_t now_ms, const Sink& sink);
  /// When coalescing holds data: the CLOCK_MONOTONIC ms its chunk is due; -1 when nothing is held.
  int64_t held_due_ms() const { return current_ && !current_->empty() ? current_->created_ms + hold_ms_ : -1; }

  /// Forgets partial input, sync and PAT/PMT state (new publisher). Sequence numbers continue.
  void reset();

  const TsChunkerStats& stats() const { return stats_; }
  const KeyframeDetector& detector() const { return detector_; }
  bool has_pat() const { return has_pat_; }
  bool has_pmt() const { return has_pmt_; }
  /// The last PAT / PMT packet (188 bytes), valid when has_pat() / has_pmt().
  const uint8_t* last_pat() const { return pat_.data(); }
  const uint8_t* last_pmt() const { return pmt_.data(); }
  /// The newest capture-agent source signal seen (source_signal.h); nullopt before one (or after
  /// reset()).
  const std::optional<SourceSignal>& source_signal() const { return source_signal_; }
  /// Incremented whenever the stored PAT or PMT bytes change.
  uint64_t psi_version() const { return psi_version_; }

 private:
  void packets(const uint8_t* p, size_t count, const Sink& sink);
  void emit(const Sink& sink);
  void new_chunk(size_t packets_ahead, bool keyframe);
  void start_keyframe_chunk(size_t packets_ahead, const Sink& sink);

  size_t max_chunk_bytes_;
  int64_t hold_ms_ = 0;
  TsAligner aligner_;
  KeyframeDetector detector_;
  std::shared_ptr<Chunk> current_;
  size_t psi_tail_ = SIZE_MAX;
  int64_t arrival_ms_ = 0;  // offset in current_ of the run of PSI packets ending it, if any
  uint64_t next_seq_ = 1;
  std::array<uint8_t, kTsPacketSize> pat_{}, pmt_{};
  std::optional<SourceSignal> source_signal_;
  bool has_pat_ = false, has_pmt_ = false;
  uint64_t psi_version_ = 0;
  std::array<int16_t, 8192> last_cc_;
  TsChunkerStats stats_;
};

}  // namespace mpegcast
