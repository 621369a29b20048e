// One output URL: a sender thread that writes queued chunks through libavformat's protocols
// (http POST chunked, tcp, udp, srt, …) and reconnects with backoff.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "capture_config.h"
#include "chunk.h"
#include "target_queue.h"

struct AVIOContext;

namespace mpegcast::capture {

enum class TargetState { idle, connecting, connected, waiting, stopped };
/// "idle", "connecting", "connected", "down" (waiting to retry), "stopped".
const char* target_state_name(TargetState s);

/// A snapshot for the status line.
struct TargetStatus {
  std::string url;  // redacted
  TargetState state = TargetState::idle;
  TargetQueueStats queue;
  uint64_t bytes_sent = 0;
  uint64_t connects = 0;
};

/// A target: bounded queue + its own thread. push() never blocks the capture thread; a target
/// that is down or slow drops whole GOPs (see TargetQueue). Each state change is logged once,
/// naming the URL without its secret.
class Target {
 public:
  /// Returns the stream's current PAT+PMT as a chunk (or null), for a peer that joins
  /// at a keyframe chunk that does not start with them.
  using PsiSource = std::function<ChunkPtr()>;

  Target(TargetConfig cfg, PsiSource psi);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  /// Starts the sender thread (connects at once).
  void start();
  /// Capture thread: queue a chunk (drops GOPs on overflow; never blocks on the network).
  void push(ChunkPtr chunk) { queue_.push(std::move(chunk)); }
  /// No more chunks: the thread sends what is queued, then closes the connection. After
  /// `grace_ms` any connect or write still in progress is interrupted.
  void begin_stop(int64_t grace_ms);
  /// Waits for the thread (call after begin_stop).
  void join();

  TargetStatus status() const;
  const std::string& url_for_log() const { return log_url_; }

 private:
  void run();
  /// Opens the URL; nullptr and `err` (AVERROR) on failure.
  AVIOContext* open(int& err);
  /// Sends until the queue is closed (returns 0) or a write fails (returns AVERROR).
  int send(AVIOContext* io);
  int write_chunk(AVIOContext* io, const uint8_t* data, size_t size);
  void wait_ms(int64_t ms);
  std::string reason(int err) const;
  static int interrupt_cb(void* opaque);

  const TargetConfig cfg_;
  const std::string log_url_;
  PsiSource psi_;
  TargetQueue queue_;
  std::thread thread_;

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> stop_deadline_ms_{INT64_MAX};
  std::atomic<int64_t> op_started_ms_{0};  // 0 = no connect/write in progress
  std::atomic<bool> timed_out_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  std::atomic<TargetState> state_{TargetState::idle};
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> connects_{0};
};

}  // namespace mpegcast::capture
