// The unit the hub and the capture agent pass around: a run of whole TS packets, immutable once
// published, shared by reference count between every viewer that sends it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace mpegcast {

/// Bytes reserved in front of every chunk's payload, so a transport can write its own framing
/// there (lws_write needs LWS_PRE = 16 bytes on x86_64; the relay static_asserts LWS_PRE <= this).
constexpr size_t kChunkHeadroom = 16;

/// A run of whole 188-byte TS packets with headroom in front.
///
/// Built once by one owner (append), then published as `ChunkPtr` and never changed again,
/// except for the headroom, which transports may use as scratch on the thread that sends it.
class Chunk {
 public:
  /// A chunk that can hold `capacity_bytes` of payload (rounded to whole TS packets by the caller).
  static std::shared_ptr<Chunk> create(size_t capacity_bytes);

  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  const uint8_t* data() const { return storage_.get() + kChunkHeadroom; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t room() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }

  /// Payload pointer for APIs that frame in place (lws_write): `kChunkHeadroom` writable bytes
  /// precede it. The payload itself must not be modified after publication.
  uint8_t* wire_data() const { return storage_.get() + kChunkHeadroom; }

  /// Appends bytes while building; returns false (and appends nothing) when they do not fit.
  bool append(const uint8_t* bytes, size_t len);

  /// Drops payload bytes from `new_size` on (builder only, before publication).
  void truncate(size_t new_size) {
    if (new_size < size_) size_ = new_size;
  }

  /// Starts with a keyframe: a decoder can begin here (given PAT/PMT).
  bool keyframe = false;
  /// Position in its stream, 1, 2, 3, … (set by the owner).
  uint64_t seq = 0;
  /// CLOCK_MONOTONIC ms when the first byte arrived (ingest) or was produced (capture).
  int64_t created_ms = 0;

 private:
  Chunk(std::unique_ptr<uint8_t[]> storage, size_t capacity) : storage_(std::move(storage)), capacity_(capacity) {}
  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_;
  size_t size_ = 0;
};

using ChunkPtr = std::shared_ptr<const Chunk>;

}  // namespace mpegcast
