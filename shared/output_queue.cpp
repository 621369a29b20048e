#include "output_queue.h"

#include <chrono>

namespace mpegcast {

OutputQueue::OutputQueue(int64_t max_ms, size_t max_bytes) : max_ms_(max_ms), max_bytes_(max_bytes) {}

bool OutputQueue::over_limit_locked() const {
  if (q_.empty()) return false;
  return bytes_ > max_bytes_ || q_.back().chunk->created_ms - q_.front().chunk->created_ms > max_ms_;
}

void OutputQueue::drop_range_locked(size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    bytes_ -= q_[i].chunk->size();
    stats_.dropped_bytes += q_[i].chunk->size();
    ++stats_.dropped_chunks;
  }
  q_.erase(q_.begin() + static_cast<std::ptrdiff_t>(begin), q_.begin() + static_cast<std::ptrdiff_t>(end));
  gap_ = true;
}

void OutputQueue::drop_front_locked(size_t count) { drop_range_locked(0, count); }

void OutputQueue::push(ChunkPtr chunk, ChunkPtr psi) {
  if (!chunk) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  if (need_keyframe_) {
    if (!chunk->keyframe) {  // the rest of a GOP that was dropped (already counted)
      ++stats_.dropped_chunks;
      stats_.dropped_bytes += chunk->size();
      return;
    }
    need_keyframe_ = false;
  }
  bytes_ += chunk->size();
  q_.push_back(Entry{std::move(chunk), std::move(psi)});
  enforce_limits_locked();
  cv_.notify_one();
}

void OutputQueue::enforce_limits_locked() {
  while (over_limit_locked()) {
    // Leading non-keyframe chunks are the tail of the GOP the consumer is sending: keep them.
    size_t first_key = 0;
    while (first_key < q_.size() && !q_[first_key].chunk->keyframe) ++first_key;
    if (first_key == q_.size()) return;  // only the GOP in flight is left
    size_t next_key = first_key + 1;
    while (next_key < q_.size() && !q_[next_key].chunk->keyframe) ++next_key;
    // Drop the oldest droppable GOP [first_key, next_key). When it is the newest one (still
    // being produced), the rest of it is dropped as it arrives.
    if (next_key == q_.size()) need_keyframe_ = true;
    drop_range_locked(first_key, next_key);
    ++stats_.dropped_gops;
  }
}

OutputQueue::Pop OutputQueue::pop(ChunkPtr& out, bool& gap_before, int timeout_ms, ChunkPtr* psi) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !q_.empty() || closed_; });
  if (q_.empty()) return closed_ ? Pop::closed : Pop::timeout;
  out = std::move(q_.front().chunk);
  if (psi) *psi = std::move(q_.front().psi);
  q_.pop_front();
  bytes_ -= out->size();
  gap_before = gap_;
  gap_ = false;
  return Pop::chunk;
}

void OutputQueue::restart() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t newest_key = q_.size();
  for (size_t i = q_.size(); i-- > 0;) {
    if (q_[i].chunk->keyframe) {
      newest_key = i;
      break;
    }
  }
  // Count the GOPs (and the leading GOP tail) thrown away.
  for (size_t i = 0; i < newest_key; ++i) {
    if (q_[i].chunk->keyframe || i == 0) ++stats_.dropped_gops;
  }
  if (newest_key == q_.size()) {
    need_keyframe_ = true;
    // A GOP in production whose keyframe is not queued any more cannot be joined.
  }
  if (newest_key > 0) drop_front_locked(newest_key);
  gap_ = true;
}

void OutputQueue::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < q_.size(); ++i) {
    if (q_[i].chunk->keyframe || i == 0) ++stats_.dropped_gops;
  }
  if (!q_.empty()) drop_front_locked(q_.size());
  need_keyframe_ = true;
  gap_ = true;
}

void OutputQueue::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void OutputQueue::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  if (!q_.empty()) drop_front_locked(q_.size());
  cv_.notify_all();
}

OutputQueueStats OutputQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  OutputQueueStats s = stats_;
  s.chunks = q_.size();
  s.bytes = bytes_;
  s.queued_ms = q_.empty() ? 0 : q_.back().chunk->created_ms - q_.front().chunk->created_ms;
  return s;
}

}  // namespace mpegcast
