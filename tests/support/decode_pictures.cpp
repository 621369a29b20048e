#include "decode_pictures.h"

#include <algorithm>
#include <cstring>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace mpegcast::test {
namespace {

struct Reader {
  const std::vector<uint8_t>& data;
  size_t pos = 0;
};

int read_cb(void* opaque, uint8_t* buf, int size) {
  auto* r = static_cast<Reader*>(opaque);
  if (r->pos >= r->data.size()) return AVERROR_EOF;
  const size_t n = std::min(static_cast<size_t>(size), r->data.size() - r->pos);
  std::memcpy(buf, r->data.data() + r->pos, n);
  r->pos += n;
  return static_cast<int>(n);
}

}  // namespace

int decode_pictures(const std::vector<uint8_t>& ts, const std::function<void(const AVFrame*, int64_t)>& on_picture) {
  Reader reader{ts};
  const int buf_size = 64 * 1024;
  auto* buf = static_cast<uint8_t*>(av_malloc(buf_size));
  AVIOContext* io = avio_alloc_context(buf, buf_size, 0, &reader, &read_cb, nullptr, nullptr);
  AVFormatContext* ic = avformat_alloc_context();
  ic->pb = io;
  int pictures = 0;
  const AVInputFormat* mpegts = av_find_input_format("mpegts");
  if (avformat_open_input(&ic, nullptr, mpegts, nullptr) == 0) {
    avformat_find_stream_info(ic, nullptr);
    const AVCodec* codec = nullptr;
    const int si = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (si >= 0 && codec) {
      AVCodecContext* dec = avcodec_alloc_context3(codec);
      avcodec_parameters_to_context(dec, ic->streams[si]->codecpar);
      dec->flags |= AV_CODEC_FLAG_LOW_DELAY;
      avcodec_open2(dec, codec, nullptr);
      AVPacket* pkt = av_packet_alloc();
      AVFrame* frame = av_frame_alloc();
      auto drain = [&] {
        while (avcodec_receive_frame(dec, frame) == 0) {
          ++pictures;
          on_picture(frame, frame->pkt_pos);
          av_frame_unref(frame);
        }
      };
      while (av_read_frame(ic, pkt) >= 0) {
        if (pkt->stream_index == si) {
          avcodec_send_packet(dec, pkt);
          drain();
        }
        av_packet_unref(pkt);
      }
      avcodec_send_packet(dec, nullptr);
      drain();
      av_frame_free(&frame);
      av_packet_free(&pkt);
      avcodec_free_context(&dec);
    }
    avformat_close_input(&ic);
  } else {
    avformat_free_context(ic);
  }
  av_freep(&io->buffer);
  avio_context_free(&io);
  return pictures;
}

double luma_fraction_near(const AVFrame* f, int y, int tolerance) {
  if (!f || f->width <= 0 || f->height <= 0) return 0;
  size_t near = 0;
  for (int r = 0; r < f->height; ++r) {
    const uint8_t* row = f->data[0] + static_cast<ptrdiff_t>(r) * f->linesize[0];
    for (int c = 0; c < f->width; ++c) near += std::abs(row[c] - y) <= tolerance;
  }
  return static_cast<double>(near) / (static_cast<double>(f->width) * f->height);
}

double ArrivalLog::at(int64_t pos) const {
  if (pos < 0) return -1;
  const auto it = std::upper_bound(sizes_.begin(), sizes_.end(), static_cast<size_t>(pos));
  if (it == sizes_.end()) return -1;
  return times_[static_cast<size_t>(it - sizes_.begin())];
}

}  // namespace mpegcast::test
