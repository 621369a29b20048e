#include "snapshot_service.h"

#include <algorithm>

namespace mpegcast::relay {

SnapshotService::SnapshotService(SnapshotConfig config, std::function<void()> wake)
    : config_(config), worker_(std::move(wake)) {}

SnapshotService::~SnapshotService() { worker_.stop(); }

std::shared_ptr<const std::string> SnapshotService::cached(const Entry& e, uint64_t seq, int width) const {
  if (e.cached_seq != seq) return nullptr;
  const auto it = e.jpegs.find(width);
  return it == e.jpegs.end() ? nullptr : it->second;
}

std::optional<SnapshotAnswer> SnapshotService::request(const StreamHub& hub, const std::string& name, int width,
                                                       SnapshotWaiter* waiter) {
  ++stats_.requests;
  const Stream* st = hub.find(name);
  if (!st) return SnapshotAnswer{404, nullptr, "no such stream\n"};
  const uint64_t seq = st->newest_keyframe_seq();
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (seq < e.cached_seq) {  // the stream went away and came back: sequence numbers start over
      e.cached_seq = 0;
      e.jpegs.clear();
    }
    // The newest keyframe's JPEG; or, while that keyframe has nothing after it yet (its picture
    // may still be arriving), the previous keyframe's.
    const bool newest_complete = st->newest_seq() > seq;
    std::shared_ptr<const std::string> jpeg = cached(e, seq, width);
    if (!jpeg && seq != 0 && !newest_complete && e.cached_seq != 0) jpeg = cached(e, e.cached_seq, width);
    if (jpeg) {
      ++stats_.cache_hits;
      return SnapshotAnswer{200, jpeg, ""};
    }
  }
  if (seq == 0) {
    return SnapshotAnswer{404, nullptr,
                          st->has_publisher() ? "no keyframe yet: the stream has not sent a picture to start from\n"
                                              : "no keyframe: the stream has no publisher\n"};
  }
  if (it == entries_.end()) {
    drop_idle_entries(hub);
    it = entries_.emplace(name, Entry()).first;
  }
  Entry& e = it->second;
  if (e.waiting.size() >= config_.max_waiting) {
    ++stats_.refused;
    return SnapshotAnswer{503, nullptr, "too many snapshot requests waiting for this stream\n"};
  }
  e.waiting.push_back(Waiting{waiter, width});
  if (!e.busy) start_job(name, e, *st);
  return std::nullopt;
}

void SnapshotService::start_job(const std::string& name, Entry& e, const Stream& stream) {
  while (!e.waiting.empty() && !e.busy) {
    const int width = e.waiting.front().width;
    KeyframeChunks k = stream.newest_keyframe(config_.max_input_bytes);
    if (k.seq == 0) {
      answer(e, width, SnapshotAnswer{404, nullptr, "no keyframe: the stream has no picture to start from\n"});
      continue;
    }
    if (std::shared_ptr<const std::string> jpeg = cached(e, k.seq, width)) {
      answer(e, width, SnapshotAnswer{200, jpeg, ""});
      continue;
    }
    if (k.chunks.front()->size() > config_.max_input_bytes) {
      stats_.refused += static_cast<uint64_t>(
          std::count_if(e.waiting.begin(), e.waiting.end(), [width](const Waiting& w) { return w.width == width; }));
      answer(e, width, SnapshotAnswer{503, nullptr, "the keyframe is larger than snapshot.max_input_bytes\n"});
      continue;
    }
    e.busy = true;
    worker_.submit(SnapshotJob{name, width, std::move(k)});
  }
}

void SnapshotService::answer(Entry& e, int width, const SnapshotAnswer& a) {
  std::vector<SnapshotWaiter*> done;
  auto keep = std::remove_if(e.waiting.begin(), e.waiting.end(), [&](const Waiting& w) {
    if (w.width != width) return false;
    done.push_back(w.waiter);
    return true;
  });
  e.waiting.erase(keep, e.waiting.end());
  for (SnapshotWaiter* w : done) w->snapshot_done(a);
}

void SnapshotService::forget(SnapshotWaiter* waiter) {
  for (auto& [name, e] : entries_) {
    e.waiting.erase(std::remove_if(e.waiting.begin(), e.waiting.end(),
                                   [waiter](const Waiting& w) { return w.waiter == waiter; }),
                    e.waiting.end());
  }
}

void SnapshotService::deliver(const StreamHub& hub) {
  for (SnapshotResult& r : worker_.take_results()) {
    if (r.decoded) ++stats_.decodes;
    auto it = entries_.find(r.stream);
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.busy = false;
    if (r.jpeg) {
      ++stats_.encodes;
      if (r.seq != e.cached_seq) {  // one job per stream at a time: results come in keyframe order
        e.cached_seq = r.seq;
        e.jpegs.clear();
      }
      if (r.seq == e.cached_seq && (e.jpegs.size() < kMaxWidthsCached || e.jpegs.count(r.width))) {
        e.jpegs[r.width] = r.jpeg;
      }
      answer(e, r.width, SnapshotAnswer{200, r.jpeg, ""});
    } else {
      stats_.failures += static_cast<uint64_t>(
          std::count_if(e.waiting.begin(), e.waiting.end(), [&r](const Waiting& w) { return w.width == r.width; }));
      answer(e, r.width, SnapshotAnswer{500, nullptr, "cannot make a snapshot: " + r.error + "\n"});
    }
    // Waiters for other widths: the next job (the stream may be gone by now).
    if (const Stream* st = hub.find(r.stream)) {
      start_job(r.stream, e, *st);
    } else {
      while (!e.waiting.empty()) answer(e, e.waiting.front().width, SnapshotAnswer{404, nullptr, "no such stream\n"});
    }
  }
}

void SnapshotService::drop_idle_entries(const StreamHub& hub) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool idle = !it->second.busy && it->second.waiting.empty();
    it = idle && !hub.find(it->first) ? entries_.erase(it) : std::next(it);
  }
}

}  // namespace mpegcast::relay
