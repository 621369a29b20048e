#include "encoder.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mpegcast::capture {

Encoder::Encoder(const VideoCodec& row, int width, int height, AVRational rate, const OutputConfig& out)
    : packet_(make_packet()) {
  const AVCodec* codec = avcodec_find_encoder(row.id);
  if (!codec) throw std::runtime_error("encoder: libavcodec has no " + std::string(row.name) + " encoder");
  ctx_.reset(avcodec_alloc_context3(codec));
  if (!ctx_ || !packet_) throw std::runtime_error("encoder: out of memory");
  AVCodecContext* c = ctx_.get();
  c->width = width;
  c->height = height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = av_inv_q(rate);
  c->framerate = rate;
  c->sample_aspect_ratio = AVRational{1, 1};
  c->gop_size = std::max(1, static_cast<int>(std::lround(out.gop_s * av_q2d(rate))));
  c->bit_rate = out.bitrate_bps;
  c->rc_max_rate = out.maxrate_bps;
  c->rc_buffer_size = static_cast<int>(std::min<int64_t>(out.bufsize_bytes * 8, INT32_MAX));
  c->thread_count = 1;
  row.configure(*c, out);
  const int err = avcodec_open2(c, codec, nullptr);
  if (err < 0) {
    throw std::runtime_error("encoder: cannot open " + std::string(codec->name) + " " + std::to_string(width) + "x" +
                             std::to_string(height) + ": " + av_error_text(err));
  }
}

int Encoder::encode(const AVFrame* frame, const PacketSink& sink) {
  int err = avcodec_send_frame(ctx_.get(), frame);
  if (err < 0 && err != AVERROR_EOF) return err;
  while (true) {
    err = avcodec_receive_packet(ctx_.get(), packet_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
    if (err < 0) return err;
    err = sink(packet_.get());
    av_packet_unref(packet_.get());
    if (err < 0) return err;
  }
}

}  // namespace mpegcast::capture
