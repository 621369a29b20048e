// MPEG-TS muxing (libavformat "mpegts") into keyframe-aligned chunks, through a custom
// AVIOContext whose write callback feeds a TsChunker.
#pragma once
#include <cstdint>
#include <functional>

#include "chunk.h"
#include "ff_ptr.h"
#include "ts_chunker.h"

namespace mpegcast::capture {

/// Muxes one encoded video stream as MPEG-TS with minimal delay (max_delay 1 ms, a flush after
/// every packet) and hands every chunk the TsChunker cuts to `sink`, on the calling thread,
/// together with the PAT + PMT in force at that chunk (they travel down each target's queue).
class TsMuxer {
 public:
  using ChunkSink = std::function<void(ChunkPtr chunk, const ChunkPtr& psi)>;

  /// `encoder` must be open (its parameters and time_base are copied). Throws
  /// std::runtime_error when the muxer cannot be set up.
  TsMuxer(const AVCodecContext* encoder, ChunkSink sink);
  ~TsMuxer();
  TsMuxer(const TsMuxer&) = delete;
  TsMuxer& operator=(const TsMuxer&) = delete;

  /// Writes one packet whose timestamps are in the encoder's time_base. Returns 0 or an
  /// AVERROR; the packet is unreferenced.
  int write(AVPacket* packet);
  /// Writes the trailer (flushes whatever is left). Idempotent.
  void finish();

  /// The last PAT + PMT seen in the output (two TS packets), or null before the header.
  const ChunkPtr& psi() const { return psi_; }
  /// TS bytes produced so far.
  uint64_t bytes() const { return chunker_.stats().bytes_in; }

 private:
  static int write_cb(void* opaque, uint8_t* buf, int size);
  void on_bytes(const uint8_t* buf, size_t size);
  void refresh_psi();

  ChunkSink sink_;
  TsChunker chunker_;
  AVRational encoder_time_base_;
  CustomIoPtr io_;
  OutputContextPtr oc_;
  AVStream* stream_ = nullptr;
  bool finished_ = false;
  uint64_t psi_version_ = 0;
  ChunkPtr psi_;
};

}  // namespace mpegcast::capture
