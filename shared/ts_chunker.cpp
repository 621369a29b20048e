#include "ts_chunker.h"

#include <algorithm>
#include <cstring>


namespace mpegcast {

TsChunker::TsChunker(size_t max_chunk_bytes)
    : max_chunk_bytes_(max_chunk_bytes < kTsPacketSize ? kTsPacketSize
                                                       : max_chunk_bytes / kTsPacketSize * kTsPacketSize) {
  last_cc_.fill(-1);
  source_signal_.reset();
}

void TsChunker::reset() {
  aligner_.reset();
  detector_.reset();
  current_.reset();
  psi_tail_ = SIZE_MAX;
  has_pat_ = has_pmt_ = false;
  ++psi_version_;
  last_cc_.fill(-1);
  source_signal_.reset();
}

void TsChunker::feed(const uint8_t* data, size_t len, int64_t arrival_ms, const Sink& sink) {
  arrival_ms_ = arrival_ms;
  stats_.bytes_in += len;
  const uint64_t discarded_before = aligner_.discarded_bytes();
  aligner_.feed(data, len, [&](const uint8_t* p, size_t count) { packets(p, count, sink); });
  stats_.discarded_bytes += aligner_.discarded_bytes() - discarded_before;
  stats_.sync_losses = aligner_.sync_losses();
  if (hold_ms_ == 0) {
    emit(sink);
  } else {
    flush_due(arrival_ms, sink);
  }
}

void TsChunker::flush_due(int64_t now_ms, const Sink& sink) {
  if (current_ && !current_->empty() && now_ms - current_->created_ms >= hold_ms_) emit(sink);
}

void TsChunker::emit(const Sink& sink) {
  if (!current_ || current_->empty()) return;
  current_->seq = next_seq_++;
  ++stats_.chunks;
  sink(std::move(current_));
  current_.reset();
  psi_tail_ = SIZE_MAX;
}

void TsChunker::new_chunk(size_t packets_ahead, bool keyframe) {
  // Sized for this feed's packets, or, when coalescing, for the feeds still to come.
  current_ = Chunk::create(hold_ms_ ? max_chunk_bytes_
                                    : std::min(max_chunk_bytes_, packets_ahead * kTsPacketSize + 2 * kTsPacketSize));
  current_->created_ms = arrival_ms_;
  current_->keyframe = keyframe;
  psi_tail_ = SIZE_MAX;
}

void TsChunker::start_keyframe_chunk(size_t packets_ahead, const Sink& sink) {
  if (!current_ || current_->empty()) return;  // the next chunk is created as a keyframe chunk
  if (psi_tail_ == 0) {  // the chunk so far is only the PAT/PMT in front of this keyframe
    current_->keyframe = true;
    return;
  }
  if (psi_tail_ == SIZE_MAX) {
    emit(sink);
    return;
  }
  // Move the PAT/PMT packets in front of the keyframe into the new chunk, sized for them too (a
  // run of several PAT/PMT pairs did not fit a chunk sized for the packets ahead and was lost).
  std::shared_ptr<Chunk> previous = std::move(current_);
  const size_t cut = psi_tail_;
  const size_t tail_bytes = previous->size() - cut;
  new_chunk(packets_ahead + tail_bytes / kTsPacketSize, true);
  current_->append(previous->data() + cut, tail_bytes);
  psi_tail_ = 0;
  previous->truncate(cut);
  std::swap(previous, current_);
  emit(sink);
  current_ = std::move(previous);
  psi_tail_ = 0;
}

void TsChunker::packets(const uint8_t* p, size_t count, const Sink& sink) {
  for (size_t i = 0; i < count; ++i, p += kTsPacketSize) {
    ++stats_.packets;
    const TsPacketKind kind = detector_.inspect(p);
    if (!kind.valid) continue;  // adaptation_field_length out of range: drop the packet
    if (kind.pid != kPidNull && kind.has_payload) {
      int16_t& last = last_cc_[kind.pid];
      if (last >= 0 && kind.continuity_counter != ((last + 1) & 0x0F) && kind.continuity_counter != last) {
        ++stats_.cc_errors;
      }
      last = kind.continuity_counter;
    }
    if (kind.pid == kPidSourceSignal) {
      if (auto signal = parse_source_signal_packet(p)) source_signal_ = signal;
    }
    if (kind.pat && (!has_pat_ || std::memcmp(pat_.data() + 4, p + 4, kTsPacketSize - 4) != 0)) {
      has_pat_ = true;
      ++psi_version_;
    } else if (kind.pmt && (!has_pmt_ || std::memcmp(pmt_.data() + 4, p + 4, kTsPacketSize - 4) != 0)) {
      has_pmt_ = true;
      ++psi_version_;
    }
    // Keep the newest copy (its continuity_counter is the newest too).
    if (kind.pat) std::memcpy(pat_.data(), p, kTsPacketSize);
    if (kind.pmt) std::memcpy(pmt_.data(), p, kTsPacketSize);
    if (kind.keyframe) {
      ++stats_.keyframes;
      start_keyframe_chunk(count - i, sink);
    }
    if (current_ && current_->room() < kTsPacketSize) emit(sink);
    if (!current_) new_chunk(count - i, kind.keyframe);
    if (kind.pat || kind.pmt) {
      if (psi_tail_ == SIZE_MAX) psi_tail_ = current_->size();
    } else {
      psi_tail_ = SIZE_MAX;
    }
    current_->append(p, kTsPacketSize);
  }
}

}  // namespace mpegcast
