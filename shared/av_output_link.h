// One libavformat output: a sender thread that writes queued TS chunks to a URL through
// libavformat's protocols (http POST chunked, tcp, udp, srt, …) and reconnects with backoff.
// The capture agent's targets and the relay's udp:// / srt:// push links are each one of these.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "av_output_config.h"
#include "chunk.h"
#include "ff_io.h"
#include "output_queue.h"

namespace mpegcast {

enum class AvOutputState { idle, connecting, connected, waiting, stopped };
/// "idle" (not started, or paused by set_active(false)), "connecting", "connected", "down"
/// (waiting to retry), "stopped".
const char* to_string(AvOutputState s);

/// A snapshot for status lines and the relay's API.
struct AvOutputStatus {
  std::string url;  // secrets masked
  AvOutputState state = AvOutputState::idle;
  OutputQueueStats queue;
  uint64_t bytes_sent = 0;  // TS bytes written (PAT/PMT repeats included)
  uint64_t connects = 0;    // connections that opened
  uint64_t failures = 0;    // failed opens and lost connections
  std::string last_error;   // "" until the first failure
};

/// An output link: a bounded queue plus its own thread. push() never blocks on the network (it
/// takes the queue's mutex only); a peer that is down or slow makes the queue drop whole GOPs
/// (see OutputQueue). Every connect, write and close runs on the link's thread with an interrupt
/// callback, so begin_stop() / set_active(false) never wait on a peer for longer than allowed.
/// Each change of state is logged once, as "<log_name>: …", naming the URL without its secrets.
class AvOutputLink {
 public:
  /// `log_name` starts every log line, e.g. "target http://…/publish/cam1" or
  /// "push cam1 to srt://…" (give it with secrets masked, see redact_url()).
  AvOutputLink(AvOutputConfig cfg, std::string log_name);
  ~AvOutputLink();
  AvOutputLink(const AvOutputLink&) = delete;
  AvOutputLink& operator=(const AvOutputLink&) = delete;

  /// Starts the sender thread; it connects at once while active (the default).
  void start();
  /// Any thread: queue a chunk (drops GOPs on overflow; never waits on the network). `psi` is
  /// the stream's PAT + PMT in force at `chunk` (or null): the link writes it in front of a
  /// keyframe chunk that does not start with it when its peer joins there (after a connect or
  /// a dropped GOP).
  void push(ChunkPtr chunk, ChunkPtr psi) { queue_.push(std::move(chunk), std::move(psi)); }
  /// Any thread: while inactive the link holds no connection (an open one is closed within
  /// ~200 ms, what was queued is dropped); active again, it connects at once.
  void set_active(bool active);
  /// No more chunks: the thread sends what is queued, then closes the connection. After
  /// `grace_ms` any connect or write still in progress is interrupted.
  void begin_stop(int64_t grace_ms);
  /// Waits for the thread (call after begin_stop).
  void join();

  /// Any thread.
  AvOutputStatus status() const;
  /// The URL with secrets masked.
  const std::string& url_for_log() const { return log_url_; }

 private:
  enum class Sent { stopped, paused, failed };
  void run();
  /// Opens the URL; nullptr and `err` (AVERROR) on failure.
  AVIOContext* open(int& err);
  /// Sends until the queue is closed, the link is paused, or a write fails (`err`: AVERROR).
  Sent send(AVIOContext* io, int& err);
  int write_chunk(AVIOContext* io, const uint8_t* data, size_t size);
  /// Closes `io` without waiting on a peer that does not read (it is already gone for us).
  void close_now(OpenIoPtr& io);
  void wait_ms(int64_t ms);
  void wait_until_active();
  void failed(const std::string& why);
  std::string reason(int err) const;
  static int interrupt_cb(void* opaque);

  const AvOutputConfig cfg_;
  const std::string log_url_;
  const std::string log_name_;
  OutputQueue queue_;
  std::thread thread_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> active_{true};
  std::atomic<int64_t> stop_deadline_ms_{INT64_MAX};
  std::atomic<int64_t> op_started_ms_{0};  // 0 = no connect/write in progress
  std::atomic<bool> timed_out_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  std::atomic<AvOutputState> state_{AvOutputState::idle};
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace mpegcast
