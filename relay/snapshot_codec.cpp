#include "snapshot_codec.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mpegcast::relay {

void AVFrameFree::operator()(AVFrame* f) const { av_frame_free(&f); }

namespace {

struct FormatClose {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct IoFree {
  void operator()(AVIOContext* io) const {
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
struct CodecFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

std::string av_error(int e) {
  char b[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(e, b, sizeof b);
  return b;
}

/// A seekable read-only byte stream over a list of chunks (the mpegts demuxer seeks back after
/// reading its header).
class ChunkReader {
 public:
  explicit ChunkReader(std::vector<const Chunk*> parts) : parts_(std::move(parts)) {
    for (const Chunk* c : parts_) size_ += c->size();
  }

  static int read(void* opaque, uint8_t* buf, int buf_size) {
    auto* r = static_cast<ChunkReader*>(opaque);
    if (r->pos_ >= r->size_) return AVERROR_EOF;
    size_t done = 0;
    size_t pos = r->pos_;
    size_t start = 0;  // offset of the current part
    for (const Chunk* c : r->parts_) {
      if (done == static_cast<size_t>(buf_size)) break;
      const size_t end = start + c->size();
      if (pos < end) {
        const size_t n = std::min(end - pos, static_cast<size_t>(buf_size) - done);
        std::memcpy(buf + done, c->data() + (pos - start), n);
        done += n;
        pos += n;
      }
      start = end;
    }
    r->pos_ = pos;
    return static_cast<int>(done);
  }

  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* r = static_cast<ChunkReader*>(opaque);
    if (whence & AVSEEK_SIZE) return static_cast<int64_t>(r->size_);
    int64_t base = 0;
    switch (whence & ~AVSEEK_FORCE) {
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = static_cast<int64_t>(r->pos_); break;
      case SEEK_END: base = static_cast<int64_t>(r->size_); break;
      default: return -1;
    }
    const int64_t p = base + offset;
    if (p < 0 || p > static_cast<int64_t>(r->size_)) return -1;
    r->pos_ = static_cast<size_t>(p);
    return p;
  }

 private:
  std::vector<const Chunk*> parts_;
  size_t size_ = 0;
  size_t pos_ = 0;
};

/// Sends `pkt` (null: flush) and takes the first picture the decoder returns, if any.
bool decode_one(AVCodecContext* dec, const AVPacket* pkt, FramePtr& out) {
  if (avcodec_send_packet(dec, pkt) < 0 && pkt) return false;
  FramePtr f(av_frame_alloc());
  if (f && avcodec_receive_frame(dec, f.get()) == 0) {
    out = std::move(f);
    return true;
  }
  return false;
}

}  // namespace

DecodedPicture decode_keyframe(const ChunkPtr& psi, const std::vector<ChunkPtr>& chunks) {
  DecodedPicture out;
  std::vector<const Chunk*> parts;
  if (psi) parts.push_back(psi.get());
  for (const ChunkPtr& c : chunks) parts.push_back(c.get());
  ChunkReader reader(std::move(parts));

  constexpr int kIoBufBytes = 32 * 1024;
  auto* iobuf = static_cast<uint8_t*>(av_malloc(kIoBufBytes));
  std::unique_ptr<AVIOContext, IoFree> io(
      iobuf ? avio_alloc_context(iobuf, kIoBufBytes, 0, &reader, &ChunkReader::read, nullptr, &ChunkReader::seek) : nullptr);
  if (!io) {
    av_free(iobuf);
    out.error = "out of memory";
    return out;
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) {
    out.error = "out of memory";
    return out;
  }
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  if (int e = avformat_open_input(&raw, nullptr, av_find_input_format("mpegts"), nullptr); e < 0) {
    out.error = "not an MPEG-TS stream: " + av_error(e);  // raw is freed on failure
    return out;
  }
  std::unique_ptr<AVFormatContext, FormatClose> fmt(raw);
  int vidx = -1;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      vidx = static_cast<int>(i);
      break;
    }
  }
  if (vidx < 0) {
    out.error = "no video stream in the PMT";
    return out;
  }
  const AVCodecParameters* par = fmt->streams[vidx]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) {
    out.error = std::string("no decoder for ") + avcodec_get_name(par->codec_id);
    return out;
  }
  std::unique_ptr<AVCodecContext, CodecFree> dec(avcodec_alloc_context3(codec));
  if (!dec || avcodec_parameters_to_context(dec.get(), par) < 0) {
    out.error = "cannot set up the decoder";
    return out;
  }
  dec->thread_count = 1;                    // one picture: frame threads would only delay it
  dec->flags |= AV_CODEC_FLAG_LOW_DELAY;    // MPEG-1/2: return the I picture without waiting for the next
  dec->skip_frame = AVDISCARD_NONINTRA;     // what follows the keyframe is not needed
  if (int e = avcodec_open2(dec.get(), codec, nullptr); e < 0) {
    out.error = "cannot open the " + std::string(codec->name) + " decoder: " + av_error(e);
    return out;
  }
  out.codec = codec->name;
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  if (!pkt) {
    out.error = "out of memory";
    return out;
  }
  while (!out.frame && av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == vidx) decode_one(dec.get(), pkt.get(), out.frame);
    av_packet_unref(pkt.get());
  }
  if (!out.frame) decode_one(dec.get(), nullptr, out.frame);  // the end: flush what the decoder holds
  if (!out.frame) out.error = "no picture decoded from the keyframe";
  return out;
}

void snapshot_size(int src_w, int src_h, int want_w, int& out_w, int& out_h) {
  out_w = std::clamp(want_w > 0 ? want_w : src_w, 16, 1920);
  const double h = src_w > 0 ? static_cast<double>(out_w) * src_h / src_w : out_w;
  out_h = std::max(2, static_cast<int>(std::lround(h / 2)) * 2);
}

bool encode_jpeg(const AVFrame& picture, int want_w, std::string& jpeg, std::string& error) {
  int w = 0, h = 0;
  snapshot_size(picture.width, picture.height, want_w, w, h);
  std::unique_ptr<SwsContext, SwsFree> sws(sws_getContext(picture.width, picture.height,
                                                          static_cast<AVPixelFormat>(picture.format), w, h,
                                                          AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  FramePtr scaled(av_frame_alloc());
  if (!sws || !scaled) {
    error = "cannot scale " + std::to_string(picture.width) + "x" + std::to_string(picture.height) + " to " +
            std::to_string(w) + "x" + std::to_string(h);
    return false;
  }
  // JPEG is full range; the video usually limited (16..235). yuv420p with the range set, not the
  // deprecated yuvj420p (swscale logs a warning for that on every context).
  const int src_full = picture.color_range == AVCOL_RANGE_JPEG || picture.format == AV_PIX_FMT_YUVJ420P ||
                       picture.format == AV_PIX_FMT_YUVJ422P || picture.format == AV_PIX_FMT_YUVJ444P;
  const int* coefs = sws_getCoefficients(SWS_CS_DEFAULT);
  sws_setColorspaceDetails(sws.get(), coefs, src_full, coefs, 1, 0, 1 << 16, 1 << 16);
  scaled->format = AV_PIX_FMT_YUV420P;
  scaled->color_range = AVCOL_RANGE_JPEG;
  scaled->width = w;
  scaled->height = h;
  if (av_frame_get_buffer(scaled.get(), 0) < 0 ||
      sws_scale(sws.get(), picture.data, picture.linesize, 0, picture.height, scaled->data, scaled->linesize) != h) {
    error = "scaling failed";
    return false;
  }
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  std::unique_ptr<AVCodecContext, CodecFree> enc(codec ? avcodec_alloc_context3(codec) : nullptr);
  if (!enc) {
    error = "no mjpeg encoder";
    return false;
  }
  constexpr int kQuality = 4;  // qscale 2 (best) … 31: 4 keeps a 640x480 test pattern near 40 KB
  enc->width = w;
  enc->height = h;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->color_range = AVCOL_RANGE_JPEG;
  enc->time_base = AVRational{1, 25};
  enc->flags |= AV_CODEC_FLAG_QSCALE;
  enc->global_quality = FF_QP2LAMBDA * kQuality;
  enc->thread_count = 1;
  if (int e = avcodec_open2(enc.get(), codec, nullptr); e < 0) {
    error = "cannot open the mjpeg encoder: " + av_error(e);
    return false;
  }
  scaled->quality = enc->global_quality;
  scaled->pts = 0;
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  if (!pkt || avcodec_send_frame(enc.get(), scaled.get()) < 0 || avcodec_receive_packet(enc.get(), pkt.get()) < 0) {
    error = "JPEG encoding failed";
    return false;
  }
  jpeg.assign(reinterpret_cast<const char*>(pkt->data), static_cast<size_t>(pkt->size));
  return true;
}

}  // namespace mpegcast::relay
