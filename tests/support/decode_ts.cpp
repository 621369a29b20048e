#include "decode_ts.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>

namespace mpegcast::test {
namespace {

struct MemReader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
};

int read_packet(void* opaque, uint8_t* buf, int buf_size) {
  auto* r = static_cast<MemReader*>(opaque);
  if (r->pos >= r->size) return AVERROR_EOF;
  size_t n = std::min(static_cast<size_t>(buf_size), r->size - r->pos);
  std::memcpy(buf, r->data + r->pos, n);
  r->pos += n;
  return static_cast<int>(n);
}

int64_t seek(void* opaque, int64_t offset, int whence) {
  auto* r = static_cast<MemReader*>(opaque);
  if (whence & AVSEEK_SIZE) return static_cast<int64_t>(r->size);
  int64_t base = 0;
  switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = static_cast<int64_t>(r->pos); break;
    case SEEK_END: base = static_cast<int64_t>(r->size); break;
    default: return -1;
  }
  int64_t p = base + offset;
  if (p < 0 || p > static_cast<int64_t>(r->size)) return -1;
  r->pos = static_cast<size_t>(p);
  return p;
}

// FFmpeg's log callback is process-wide; while decode_ts runs, error lines go to this result.
thread_local DecodeResult* g_collect = nullptr;

void log_callback(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_ERROR) return;
  if (!g_collect) {
    av_log_default_callback(avcl, level, fmt, vl);
    return;
  }
  char line[512];
  std::vsnprintf(line, sizeof(line), fmt, vl);
  ++g_collect->log_errors;
  const std::string text = std::string("[av] ") + line;
  if (g_collect->error_text.size() < 600 && g_collect->error_text.find(text) == std::string::npos)
    g_collect->error_text += text;
}

void note(DecodeResult& r, const std::string& what) {
  if (r.error_text.size() < 600) r.error_text += what + "\n";
}

std::string err2str(int e) {
  char b[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(e, b, sizeof(b));
  return b;
}

struct FmtCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct IoCloser {
  void operator()(AVIOContext* io) const {
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};

}  // namespace

std::string DecodeResult::summary() const {
  std::ostringstream s;
  s << "opened=" << opened << " codec=" << codec << " " << width << "x" << height << " frames=" << frames_decoded
    << " video_packets=" << video_packets << " first_frame_packet_index=" << first_frame_packet_index
    << " pts_span=" << (frames_decoded ? last_pts_s - first_pts_s : 0.0) << "s errors=" << errors << " log_errors=" << log_errors
    << " ts_packets=" << ts_packets;
  if (!error_text.empty()) s << " messages: " << error_text;
  return s.str();
}

DecodeResult decode_ts(const std::vector<uint8_t>& ts) {
  DecodeResult r;
  r.ts_packets = ts.size() / 188;
  if (ts.empty()) {
    note(r, "no input bytes");
    return r;
  }
  g_collect = &r;
  av_log_set_callback(log_callback);
  struct Restore {
    ~Restore() {
      g_collect = nullptr;
      av_log_set_callback(av_log_default_callback);
    }
  } restore;

  MemReader mem{ts.data(), ts.size()};
  constexpr int kIoBuf = 32768;
  auto* iobuf = static_cast<uint8_t*>(av_malloc(kIoBuf));
  std::unique_ptr<AVIOContext, IoCloser> io(avio_alloc_context(iobuf, kIoBuf, 0, &mem, read_packet, nullptr, seek));
  if (!io) {
    av_free(iobuf);
    note(r, "avio_alloc_context failed");
    return r;
  }
  AVFormatContext* raw = avformat_alloc_context();
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  const AVInputFormat* mpegts = av_find_input_format("mpegts");
  int e = avformat_open_input(&raw, nullptr, mpegts, nullptr);
  if (e < 0) {  // avformat_open_input frees raw on failure
    note(r, "avformat_open_input: " + err2str(e));
    return r;
  }
  std::unique_ptr<AVFormatContext, FmtCloser> fmt(raw);
  e = avformat_find_stream_info(fmt.get(), nullptr);
  if (e < 0) note(r, "avformat_find_stream_info: " + err2str(e));
  const int vidx = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (vidx < 0) {
    note(r, "no video stream: " + err2str(vidx));
    return r;
  }
  AVStream* st = fmt->streams[vidx];
  const AVCodec* dec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!dec) {
    note(r, std::string("no decoder for ") + avcodec_get_name(st->codecpar->codec_id));
    return r;
  }
  r.codec = dec->name;
  std::unique_ptr<AVCodecContext, CodecCloser> ctx(avcodec_alloc_context3(dec));
  avcodec_parameters_to_context(ctx.get(), st->codecpar);
  ctx->pkt_timebase = st->time_base;
  if ((e = avcodec_open2(ctx.get(), dec, nullptr)) < 0) {
    note(r, "avcodec_open2: " + err2str(e));
    return r;
  }
  r.opened = true;

  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  std::vector<int64_t> packet_pts;  // pts (or dts) per video packet, in demux order
  const double tb = av_q2d(st->time_base);
  bool have_first = false;

  auto drain = [&]() {
    while (true) {
      int rc = avcodec_receive_frame(ctx.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) {
        ++r.errors;
        note(r, "receive_frame: " + err2str(rc));
        return;
      }
      if ((frame->flags & AV_FRAME_FLAG_CORRUPT) || frame->decode_error_flags) ++r.errors;
      int64_t ts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
      if (!have_first) {
        have_first = true;
        r.width = frame->width;
        r.height = frame->height;
        int64_t fts = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->pkt_dts;
        auto it = std::find(packet_pts.begin(), packet_pts.end(), fts);
        r.first_frame_packet_index =
            it != packet_pts.end() ? static_cast<int>(it - packet_pts.begin()) : (fts == AV_NOPTS_VALUE ? 0 : -2);
        if (ts != AV_NOPTS_VALUE) r.first_pts_s = ts * tb;
      }
      if (ts != AV_NOPTS_VALUE) r.last_pts_s = ts * tb;
      ++r.frames_decoded;
      av_frame_unref(frame.get());
    }
  };

  while ((e = av_read_frame(fmt.get(), pkt.get())) >= 0) {
    if (pkt->stream_index == vidx) {
      packet_pts.push_back(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts);
      ++r.video_packets;
      int rc = avcodec_send_packet(ctx.get(), pkt.get());
      if (rc < 0 && rc != AVERROR(EAGAIN)) {
        ++r.errors;
        note(r, "send_packet #" + std::to_string(r.video_packets - 1) + ": " + err2str(rc));
      }
      drain();
    }
    av_packet_unref(pkt.get());
  }
  if (e != AVERROR_EOF) note(r, "av_read_frame: " + err2str(e));
  avcodec_send_packet(ctx.get(), nullptr);
  drain();
  return r;
}

}  // namespace mpegcast::test
