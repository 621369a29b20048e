#include "snapshot_worker.h"

#include "clock.h"
#include "snapshot_codec.h"

namespace mpegcast::relay {

/// A decoded keyframe picture of one stream.
struct SnapshotWorker::Decoded {
  std::string stream;
  uint64_t seq = 0;
  FramePtr frame;
};

namespace {
constexpr size_t kDecodedPictures = 8;  // streams whose last picture is kept (640x480: 460 KB each)
}

SnapshotWorker::SnapshotWorker(std::function<void()> wake) : wake_(std::move(wake)) {
  thread_ = std::thread([this] { run(); });
}

SnapshotWorker::~SnapshotWorker() { stop(); }

void SnapshotWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake_ = nullptr;
    jobs_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotWorker::submit(SnapshotJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::vector<SnapshotResult> SnapshotWorker::take_results() {
  std::vector<SnapshotResult> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.swap(results_);
  return out;
}

void SnapshotWorker::run() {
  for (;;) {
    SnapshotJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    SnapshotResult r = process(job);
    job.keyframe = KeyframeChunks();  // drop the chunk references before the service thread hears of it
    std::lock_guard<std::mutex> lock(mu_);
    results_.push_back(std::move(r));
    if (wake_) wake_();
  }
}

SnapshotResult SnapshotWorker::process(SnapshotJob& job) {
  const int64_t start = now_ms();
  SnapshotResult r;
  r.stream = job.stream;
  r.seq = job.keyframe.seq;
  r.width = job.width;
  // The picture of this keyframe when it was decoded before (another width), else decode it.
  auto it = decoded_.begin();
  while (it != decoded_.end() && (*it)->stream != job.stream) ++it;
  std::unique_ptr<Decoded> d;
  if (it != decoded_.end()) {
    d = std::move(*it);
    decoded_.erase(it);
  }
  if (!d || d->seq != r.seq || !d->frame) {
    DecodedPicture p = decode_keyframe(job.keyframe.psi, job.keyframe.chunks);
    r.decoded = true;
    if (!d) d = std::make_unique<Decoded>();
    d->stream = job.stream;
    d->seq = r.seq;
    d->frame = std::move(p.frame);
    if (!d->frame) r.error = p.error;
  }
  if (d->frame) {
    std::string jpeg;
    if (encode_jpeg(*d->frame, job.width, jpeg, r.error)) r.jpeg = std::make_shared<const std::string>(std::move(jpeg));
  }
  decoded_.insert(decoded_.begin(), std::move(d));
  if (decoded_.size() > kDecodedPictures) decoded_.pop_back();
  r.took_ms = now_ms() - start;
  return r;
}

}  // namespace mpegcast::relay
