#include "ts_muxer.h"

#include <stdexcept>

#include "log.h"

namespace mpegcast::capture {
namespace {
constexpr int kIoBufferBytes = 64 * 1024;
constexpr size_t kMaxChunkBytes = 256 * kTsPacketSize;
}  // namespace

TsMuxer::TsMuxer(const AVCodecContext* encoder, ChunkSink sink)
    : sink_(std::move(sink)), chunker_(kMaxChunkBytes), encoder_time_base_(encoder->time_base) {
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferBytes));
  if (!buffer) throw std::runtime_error("TS muxer: out of memory");
  io_.reset(avio_alloc_context(buffer, kIoBufferBytes, 1, this, nullptr, &TsMuxer::write_cb, nullptr));
  if (!io_) {
    av_free(buffer);
    throw std::runtime_error("TS muxer: cannot allocate the AVIOContext");
  }
  AVFormatContext* oc = nullptr;
  int err = avformat_alloc_output_context2(&oc, nullptr, "mpegts", nullptr);
  if (err < 0) throw std::runtime_error("TS muxer: " + av_error_text(err));
  oc_.reset(oc);
  oc_->pb = io_.get();
  oc_->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_FLUSH_PACKETS;
  oc_->flush_packets = 1;
  oc_->max_delay = 1000;  // µs: ffmpeg's -muxdelay 0.001
  stream_ = avformat_new_stream(oc_.get(), nullptr);
  if (!stream_) throw std::runtime_error("TS muxer: cannot add a stream");
  err = avcodec_parameters_from_context(stream_->codecpar, encoder);
  if (err < 0) throw std::runtime_error("TS muxer: " + av_error_text(err));
  stream_->time_base = encoder->time_base;
  stream_->avg_frame_rate = encoder->framerate;
  err = avformat_write_header(oc_.get(), nullptr);
  if (err < 0) throw std::runtime_error("TS muxer: cannot write the header: " + av_error_text(err));
}

TsMuxer::~TsMuxer() {
  finish();
  oc_.reset();  // before io_, which it points to
}

int TsMuxer::write_cb(void* opaque, uint8_t* buf, int size) {
  static_cast<TsMuxer*>(opaque)->on_bytes(buf, static_cast<size_t>(size));
  return size;
}

void TsMuxer::refresh_psi() {
  if (chunker_.psi_version() == psi_version_ || !chunker_.has_pat() || !chunker_.has_pmt()) return;
  psi_version_ = chunker_.psi_version();
  auto psi = Chunk::create(2 * kTsPacketSize);
  psi->append(chunker_.last_pat(), kTsPacketSize);
  psi->append(chunker_.last_pmt(), kTsPacketSize);
  psi_ = std::move(psi);  // a new chunk: one already queued keeps the PAT/PMT it was pushed with
}

void TsMuxer::on_bytes(const uint8_t* buf, size_t size) {
  chunker_.feed(buf, size, [this](std::shared_ptr<Chunk> c) {
    refresh_psi();  // the chunker has read the PAT/PMT in front of this chunk's keyframe
    sink_(std::move(c), psi_);
  });
  refresh_psi();
}

int TsMuxer::write(AVPacket* packet) {
  packet->stream_index = stream_->index;
  av_packet_rescale_ts(packet, encoder_time_base_, stream_->time_base);
  return av_write_frame(oc_.get(), packet);  // no interleaving: one stream; flushed per packet
}

void TsMuxer::finish() {
  if (finished_ || !oc_) return;
  finished_ = true;
  av_write_frame(oc_.get(), nullptr);
  const int err = av_write_trailer(oc_.get());
  if (err < 0) LOG_WARN("TS muxer: trailer: %s", av_error_text(err).c_str());
  avio_flush(io_.get());
}

}  // namespace mpegcast::capture
