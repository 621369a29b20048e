// The snapshot worker: one thread that turns a stream's newest keyframe (shared chunks handed
// over by the service thread, no copy) into a JPEG, so decoding and encoding never run on the
// relay's service thread. Results come back through a mutex-protected list, and the worker wakes
// the service loop with the `wake` callback (lws_cancel_service: LWS_CALLBACK_EVENT_WAIT_CANCELLED
// then reaches every protocol, and the viewer protocol calls SnapshotService::deliver()).
// The last decoded picture of each of the last few streams is kept here, so another width of the
// same keyframe costs a scale and an encode, not a decode.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stream_hub.h"

namespace mpegcast::relay {

/// One JPEG to make: `width` 0 is the picture's own width (see snapshot_size()).
struct SnapshotJob {
  std::string stream;
  int width = 0;
  KeyframeChunks keyframe;
};

/// What became of a job.
struct SnapshotResult {
  std::string stream;
  uint64_t seq = 0;                         // the keyframe's sequence number
  int width = 0;                            // as asked (0: the picture's own)
  std::shared_ptr<const std::string> jpeg;  // null on failure
  std::string error;                        // why `jpeg` is null
  bool decoded = false;                     // this job ran the video decoder (not a cached picture)
  int64_t took_ms = 0;
};

class SnapshotWorker {
 public:
  /// `wake` is called on the worker thread, under the worker's lock, after each result.
  explicit SnapshotWorker(std::function<void()> wake);
  /// Stops and joins the thread (after the job in progress, if any).
  ~SnapshotWorker();
  SnapshotWorker(const SnapshotWorker&) = delete;
  SnapshotWorker& operator=(const SnapshotWorker&) = delete;

  /// Queues a job (any thread). The caller bounds how many are queued (one per stream).
  void submit(SnapshotJob job);
  /// The results finished since the last call (any thread; the service thread in practice).
  std::vector<SnapshotResult> take_results();
  /// Stops waking (before the loop the callback wakes goes away) and joins the thread.
  void stop();

 private:
  void run();
  SnapshotResult process(SnapshotJob& job);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SnapshotJob> jobs_;
  std::vector<SnapshotResult> results_;
  std::function<void()> wake_;  // cleared by stop()
  bool stopping_ = false;
  struct Decoded;               // worker thread only
  std::vector<std::unique_ptr<Decoded>> decoded_;  // most recently used first
  std::thread thread_;
};

}  // namespace mpegcast::relay
