#include "stream_hub.h"

#include <algorithm>
#include <cstdint>

#include "clock.h"
#include "log.h"
#include "stream_name.h"

namespace mpegcast::relay {

const char* to_string(PublishResult r) {
  switch (r) {
    case PublishResult::ok: return "ok";
    case PublishResult::not_ts: return "its first 64 KiB are mostly not MPEG-TS";
    case PublishResult::too_fast: return "above max_bitrate_bps";
  }
  return "?";
}

const char* to_string(SubscriberClose why) {
  switch (why) {
    case SubscriberClose::stalled: return "stalled: no progress for stall_timeout_s";
    case SubscriberClose::no_publisher: return "nothing published the stream in time";
  }
  return "?";
}

const char* to_string(HubError e) {
  switch (e) {
    case HubError::none: return "ok";
    case HubError::bad_name: return "invalid stream name";
    case HubError::stream_busy: return "stream already has a publisher";
    case HubError::too_many_streams: return "too many streams";
    case HubError::too_many_subscribers: return "too many viewers on this relay";
    case HubError::stream_full: return "too many viewers on this stream";
  }
  return "?";
}

// ---------------------------------------------------------------- Subscriber

int64_t Subscriber::lag_ms() const {
  const Stream& st = *stream_;
  if (wait_keyframe_ || st.ring_.empty()) return 0;
  const Chunk* c = st.at(next_seq_);
  if (!c) return next_seq_ > st.ring_.back()->seq ? 0 : INT64_MAX;
  return st.ring_.back()->created_ms - c->created_ms;
}

bool Subscriber::has_data() const {
  const Stream& st = *stream_;
  if (wait_keyframe_) return st.newest_keyframe_seq_ != 0;
  return send_psi_ || (!st.ring_.empty() && next_seq_ <= st.ring_.back()->seq);
}

const ChunkPtr* Subscriber::park() {
  if (!parked_) {
    parked_ = true;
    stream_->parked_.push_back(this);
  }
  return nullptr;
}

const Chunk* Subscriber::next(int64_t now_ms) {
  const ChunkPtr* c = next_entry(now_ms);
  return c ? c->get() : nullptr;
}

ChunkPtr Subscriber::next_shared(int64_t now_ms) {
  const ChunkPtr* c = next_entry(now_ms);
  return c ? *c : nullptr;
}

const ChunkPtr* Subscriber::next_entry(int64_t now_ms) {
  Stream& st = *stream_;
  woken_ = false;
  last_progress_ms_ = now_ms;
  if (wait_keyframe_ && !st.position_at_newest_keyframe(*this)) {
    return park();
  }
  if (send_psi_) {
    send_psi_ = false;
    if (st.psi_) {
      bytes_sent_ += st.psi_->size();
      st.bytes_out_ += st.psi_->size();
      return &st.psi_;  // the keyframe chunk follows, so there is more: no park
    }
  }
  const ChunkPtr* c = st.entry(next_seq_);
  if (!c) {
    if (st.ring_.empty() || next_seq_ > st.ring_.back()->seq) {
      return park();  // caught up
    }
    // Our chunk was evicted: we fell too far behind for the cache.
    ++skips_;
    ++st.lag_skips_;
    if (!st.position_at_newest_keyframe(*this)) return park();
    return next_entry(now_ms);
  }
  if (st.newest_keyframe_seq_ > next_seq_ && st.ring_.back()->created_ms - (*c)->created_ms > st.config_.max_lag_ms) {
    ++skips_;
    ++st.lag_skips_;
    st.position_at_newest_keyframe(*this);
    return next_entry(now_ms);
  }
  ++next_seq_;
  bytes_sent_ += (*c)->size();
  st.bytes_out_ += (*c)->size();
  if (!has_data()) park();  // caught up: the next chunk will wake us
  return c;
}

// ---------------------------------------------------------------- Stream

Stream::Stream(std::string name, const HubConfig& config)
    : name_(std::move(name)), config_(config), chunker_(config.max_chunk_bytes), created_s_(wall_time_s()) {
  chunker_.set_hold_ms(config.coalesce_ms);
}

const ChunkPtr* Stream::entry(uint64_t seq) const {
  if (ring_.empty()) return nullptr;
  const uint64_t first = ring_.front()->seq;
  if (seq < first || seq > ring_.back()->seq) return nullptr;
  return &ring_[seq - first];
}

const Chunk* Stream::at(uint64_t seq) const {
  const ChunkPtr* c = entry(seq);
  return c ? c->get() : nullptr;
}

KeyframeChunks Stream::newest_keyframe(size_t max_bytes) const {
  KeyframeChunks k;
  if (newest_keyframe_seq_ == 0 || ring_.empty()) return k;
  k.seq = newest_keyframe_seq_;
  k.psi = psi_;
  for (uint64_t seq = newest_keyframe_seq_; seq <= ring_.back()->seq; ++seq) {
    const ChunkPtr& c = ring_[seq - ring_.front()->seq];
    if (!k.chunks.empty() && k.bytes + c->size() > max_bytes) break;
    k.bytes += c->size();
    k.chunks.push_back(c);
  }
  k.followed = ring_.back()->seq > newest_keyframe_seq_;
  return k;
}

bool Stream::position_at_newest_keyframe(Subscriber& s) {
  if (newest_keyframe_seq_ == 0) {
    s.wait_keyframe_ = true;
    return false;
  }
  s.wait_keyframe_ = false;
  s.next_seq_ = newest_keyframe_seq_;
  // A keyframe chunk that does not start with a PAT needs the stored PAT/PMT in front.
  const Chunk* k = at(newest_keyframe_seq_);
  const bool starts_with_pat = k && k->size() >= 3 && k->data()[1] == 0x40 && k->data()[2] == 0x00;
  s.send_psi_ = psi_ && !starts_with_pat;
  return true;
}

void Stream::rebuild_psi() {
  if (psi_version_ == chunker_.psi_version()) return;
  psi_version_ = chunker_.psi_version();
  if (!chunker_.has_pat() || !chunker_.has_pmt()) {
    psi_.reset();
    return;
  }
  auto psi = Chunk::create(2 * kTsPacketSize);
  psi->append(chunker_.last_pat(), kTsPacketSize);
  psi->append(chunker_.last_pmt(), kTsPacketSize);
  psi_ = std::move(psi);
}

void Stream::on_chunk(std::shared_ptr<Chunk> chunk) {
  if (chunk->keyframe) {
    // The format as the newest keyframe's headers say (a few KiB scanned once per GOP).
    const KeyframeDetector& d = chunker_.detector();
    if (auto f = video_format_of_ts(chunk->data(), chunk->size(), d.video_pid(), d.video_stream_type())) {
      video_format_ = *f;
    }
    if (newest_keyframe_seq_ != 0) {
      if (const Chunk* prev = at(newest_keyframe_seq_)) gop_ms_ = chunk->created_ms - prev->created_ms;
    }
    newest_keyframe_seq_ = chunk->seq;
    rebuild_psi();
  }
  ring_bytes_ += chunk->size();
  ring_.push_back(std::move(chunk));
  evict();
  // Wake every parked subscriber; the rest will find the chunk on their next write. A woken
  // owner may call next() at once and park again, so walk a swapped-out list (its capacity is
  // kept in waking_: no allocation per chunk once both lists have grown).
  waking_.swap(parked_);
  const size_t n = waking_.size();
  for (size_t i = 0; i < n; ++i) {
    // Each wake() is usually a send(), after which little of this list's subscribers and owners
    // is still in the cache: fetch the next ones while this one is being sent.
    if (i + 2 < n) __builtin_prefetch(waking_[i + 2]);
    if (i + 1 < n) __builtin_prefetch(waking_[i + 1]->owner_);
    Subscriber* s = waking_[i];
    s->parked_ = false;
    if (!s->woken_ && !s->closing_) {
      s->woken_ = true;
      s->owner_->wake();
    }
  }
  waking_.clear();
}

void Stream::evict() {
  if (ring_.empty()) return;
  const int64_t newest_ms = ring_.back()->created_ms;
  // Keep everything from the newest keyframe on; older chunks only while they are within
  // max_lag_ms (so lagging subscribers can still be served) and the byte cap holds.
  while (ring_.size() > 1) {
    const ChunkPtr& front = ring_.front();
    const bool before_newest_gop = newest_keyframe_seq_ == 0 || front->seq < newest_keyframe_seq_;
    const bool too_old = newest_ms - front->created_ms > config_.max_lag_ms;
    const bool too_big = ring_bytes_ > config_.gop_cache_max_bytes;
    if (!(too_big || (before_newest_gop && too_old))) break;
    if (!before_newest_gop && !too_big) break;
    if (front->seq == newest_keyframe_seq_) newest_keyframe_seq_ = 0;  // GOP larger than the cache
    ring_bytes_ -= front->size();
    ring_.pop_front();
  }
}

void Stream::update_bitrate(int64_t now_ms) {
  // A ring of 6 one-second samples: the oldest is ~5 s old once it is full.
  constexpr size_t kSamples = sizeof rate_samples_ / sizeof rate_samples_[0];
  rate_samples_[rate_next_ % kSamples] = RateSample{now_ms, bytes_in_, bytes_out_};
  ++rate_next_;
  const RateSample& oldest = rate_samples_[rate_next_ >= kSamples ? rate_next_ % kSamples : 0];
  const int64_t elapsed = now_ms - oldest.ms;
  if (elapsed <= 0) return;
  bitrate_in_bps_ = (bytes_in_ - oldest.in) * 8000 / static_cast<uint64_t>(elapsed);
  bitrate_out_bps_ = (bytes_out_ - oldest.out) * 8000 / static_cast<uint64_t>(elapsed);
}

StreamStats Stream::stats() const {
  StreamStats s;
  s.name = name_;
  s.has_publisher = publisher_ != nullptr;
  s.publisher = publisher_peer_;
  if (publisher_) {
    s.publisher_kind = publisher_kind;
    s.publisher_protocol = publisher_protocol;
    s.via = via;
  }
  s.publisher_since_s = publisher_since_s_;
  s.bytes_in = bytes_in_;
  s.bitrate_in_bps = bitrate_in_bps_;
  s.bitrate_out_bps = bitrate_out_bps_;
  s.bytes_out = bytes_out_;
  s.created_s = created_s_;
  s.video = video_format_;
  s.audio_codec = codec_name(chunker_.detector().audio_stream_type());
  for (const auto& sub : subscribers_) ++s.subscribers_by_egress[sub->owner_->egress()];
  s.subscribers = subscribers_.size();
  const TsChunkerStats& cs = chunker_.stats();
  s.chunks = cs.chunks;
  s.keyframes = cs.keyframes;
  s.discarded_bytes = cs.discarded_bytes;
  s.resyncs = cs.sync_losses;
  s.cc_errors = cs.cc_errors;
  s.lag_skips = lag_skips_;
  s.stalls = stalls_;
  s.publishers_total = publishers_total_;
  s.cache_bytes = ring_bytes_;
  s.cache_chunks = ring_.size();
  s.gop_ms = gop_ms_;
  s.video_stream_type = chunker_.detector().video_stream_type();
  if (publisher_) s.source = chunker_.source_signal();
  return s;
}

// ---------------------------------------------------------------- StreamHub

StreamHub::StreamHub(HubConfig config) : config_(config) {}
StreamHub::~StreamHub() = default;

Stream* StreamHub::find(const std::string& name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

Stream* StreamHub::get_or_create(const std::string& name, size_t max_waiting, HubError& error) {
  if (!valid_stream_name(name)) {
    error = HubError::bad_name;
    return nullptr;
  }
  if (Stream* s = find(name)) return s;
  if (streams_.size() - published_streams_ >= max_waiting) {
    error = HubError::too_many_streams;
    return nullptr;
  }
  auto stream = std::make_unique<Stream>(name, config_);
  Stream* raw = stream.get();
  streams_.emplace(name, std::move(stream));
  return raw;
}

Stream* StreamHub::attach_publisher(const std::string& name, PublisherOwner* owner, const std::string& peer,
                                    bool allow_takeover, int64_t now_ms, HubError& error) {
  error = HubError::none;
  if (Stream* existing = find(name); (!existing || !existing->publisher_) && published_streams_ >= config_.max_streams) {
    error = valid_stream_name(name) ? HubError::too_many_streams : HubError::bad_name;
    return nullptr;
  }
  // A new stream is created for its publisher: the waiting-stream cap does not apply.
  Stream* st = get_or_create(name, SIZE_MAX, error);
  if (!st) return nullptr;
  if (st->publisher_) {
    if (!allow_takeover) {
      error = HubError::stream_busy;
      return nullptr;
    }
    PublisherOwner* old = st->publisher_;
    LOG_NOTICE("stream %s: publisher %s takes over from %s", name.c_str(), peer.c_str(), st->publisher_peer_.c_str());
    detach_publisher(st, old);
    old->taken_over();
  }
  if (!st->publisher_) ++published_streams_;
  st->publisher_ = owner;
  st->publisher_peer_ = peer;
  st->via.clear();  // the ingest sets the new publisher's path, if it has one
  st->publisher_kind = "connection";  // likewise its kind and protocol
  st->publisher_protocol.clear();
  st->publisher_since_s_ = wall_time_s();
  st->last_input_ms_ = now_ms;
  ++st->publishers_total_;
  // A new publisher starts a new TS: forget the old one's GOP and make every subscriber wait
  // for the new publisher's first keyframe.
  st->chunker_.reset();
  st->publisher_bytes_ = 0;
  st->publisher_verified_ = false;
  st->publisher_packets_start_ = st->chunker_.stats().packets;
  st->rate_tokens_bytes_ = 2000.0 * static_cast<double>(config_.max_publish_bitrate_bps) / 8000.0;
  st->rate_tokens_ms_ = now_ms;
  st->ring_.clear();
  st->ring_bytes_ = 0;
  st->newest_keyframe_seq_ = 0;
  st->psi_.reset();
  st->psi_version_ = UINT64_MAX;
  st->video_format_ = VideoFormat{};
  for (auto& s : st->subscribers_) {
    s->wait_keyframe_ = true;
    s->send_psi_ = false;
  }
  return st;
}

PublishResult StreamHub::publish(Stream* st, const uint8_t* data, size_t len, int64_t now_ms) {
  st->bytes_in_ += len;
  st->publisher_bytes_ += len;
  st->last_input_ms_ = now_ms;
  // Token bucket: refills at max_publish_bitrate_bps, holds at most 2 s worth.
  const double rate_bytes_per_ms = static_cast<double>(config_.max_publish_bitrate_bps) / 8000.0;
  st->rate_tokens_bytes_ = std::min(st->rate_tokens_bytes_ + static_cast<double>(now_ms - st->rate_tokens_ms_) * rate_bytes_per_ms,
                                    2000.0 * rate_bytes_per_ms);
  st->rate_tokens_ms_ = now_ms;
  st->rate_tokens_bytes_ -= static_cast<double>(len);
  if (st->rate_tokens_bytes_ < 0) return PublishResult::too_fast;
  const bool was_holding = st->chunker_.held_due_ms() >= 0;
  st->chunker_.feed(data, len, now_ms, [st](std::shared_ptr<Chunk> c) { st->on_chunk(std::move(c)); });
  if (flush_scheduler_ && !was_holding) {
    const int64_t due = st->chunker_.held_due_ms();
    if (due >= 0) flush_scheduler_(due);
  }
  // Judge the first max_bytes_without_ts bytes once: random bytes fake a sync now and then, so
  // "not TS" means less than half of them aligned into packets.
  if (!st->publisher_verified_ && st->publisher_bytes_ >= config_.max_bytes_without_ts) {
    const uint64_t aligned = (st->chunker_.stats().packets - st->publisher_packets_start_) * kTsPacketSize;
    if (aligned * 2 < st->publisher_bytes_) return PublishResult::not_ts;
    st->publisher_verified_ = true;
  }
  return PublishResult::ok;
}

void StreamHub::detach_publisher(Stream* st, PublisherOwner* owner) {
  if (!st || st->publisher_ != owner) return;
  st->publisher_ = nullptr;
  --published_streams_;
  st->publisher_peer_.clear();
  st->publisher_since_s_ = 0;
}

Subscriber* StreamHub::subscribe(const std::string& name, SubscriberOwner* owner, int64_t now_ms, HubError& error,
                                 const std::vector<std::string>* via) {
  error = HubError::none;
  if (subscriber_total_ >= config_.max_subscribers) {
    error = HubError::too_many_subscribers;
    return nullptr;
  }
  Stream* st = get_or_create(name, config_.max_waiting_streams, error);
  if (!st) return nullptr;
  if (st->subscribers_.size() >= config_.max_subscribers_per_stream) {
    error = HubError::stream_full;
    return nullptr;
  }
  std::unique_ptr<Subscriber> owned(new Subscriber(st, owner, now_ms));  // private constructor
  Subscriber* s = owned.get();
  s->index_ = st->subscribers_.size();
  st->subscribers_.push_back(std::move(owned));
  ++subscriber_total_;
  st->position_at_newest_keyframe(*s);
  if (st->subscribers_.size() == 1) {
    st->demand_via = via ? *via : std::vector<std::string>();
    demand_changed(st->name_, true);
  }
  return s;
}

void StreamHub::unsubscribe(Subscriber* s) {
  if (!s) return;
  Stream* st = s->stream_;
  if (s->parked_) {
    auto& p = st->parked_;
    p.erase(std::remove(p.begin(), p.end(), s), p.end());
  }
  auto& subs = st->subscribers_;
  const size_t i = s->index_;
  subs.back()->index_ = i;
  std::swap(subs[i], subs.back());
  subs.pop_back();  // destroys s
  --subscriber_total_;
  if (subs.empty()) demand_changed(st->name_, false);
}

void StreamHub::refuse_waiting(const std::string& name) {
  Stream* st = find(name);
  if (!st || st->publisher_) return;
  for (size_t i = 0; i < st->subscribers_.size(); ++i) {
    Subscriber* s = st->subscribers_[i].get();
    if (s->closing_) continue;
    s->closing_ = true;
    s->owner_->close(SubscriberClose::no_publisher);
  }
}

void StreamHub::flush_due(int64_t now_ms) {
  for (auto& [name, st] : streams_) {
    Stream* s = st.get();
    s->chunker_.flush_due(now_ms, [s](std::shared_ptr<Chunk> c) { s->on_chunk(std::move(c)); });
  }
}

int64_t StreamHub::next_flush_due_ms() const {
  int64_t next = -1;
  for (const auto& [name, st] : streams_) {
    const int64_t due = st->chunker_.held_due_ms();
    if (due >= 0 && (next < 0 || due < next)) next = due;
  }
  return next;
}

void StreamHub::tick(int64_t now_ms) {
  const int64_t stall_ms = config_.stall_timeout_s * 1000;
  for (auto it = streams_.begin(); it != streams_.end();) {
    Stream& st = *it->second;
    st.update_bitrate(now_ms);
    for (size_t i = 0; i < st.subscribers_.size(); ++i) {
      Subscriber* s = st.subscribers_[i].get();
      if (s->closing_) continue;
      if (!st.ever_published() && now_ms - s->connected_ms_ >= config_.publisher_wait_ms) {
        s->closing_ = true;
        s->owner_->close(SubscriberClose::no_publisher);
        continue;
      }
      if (s->parked_) continue;
      if (now_ms - s->last_progress_ms_ > stall_ms) {
        s->closing_ = true;
        ++st.stalls_;
        s->owner_->close(SubscriberClose::stalled);
      }
    }
    if (!st.publisher_ && st.subscribers_.empty()) {
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mpegcast::relay

namespace mpegcast::relay {

std::vector<StreamStats> StreamHub::stats() const {
  std::vector<StreamStats> out;
  out.reserve(streams_.size());
  for (const auto& [name, stream] : streams_) out.push_back(stream->stats());
  return out;
}

}  // namespace mpegcast::relay
