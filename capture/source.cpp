#include "source.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

extern "C" {
#include <libavdevice/avdevice.h>
#include <libavutil/pixdesc.h>
}

#include "av_log_bridge.h"
#include "clock.h"
#include "log.h"

namespace mpegcast::capture {

const SourceKind& source_kind_of(const InputConfig& in) {
  const SourceKind* kind = find_source_kind(in.source);
  if (!kind) throw SourceError("input: unknown source \"" + in.source + "\"");
  return *kind;
}

int Source::interrupt_cb(void* opaque) {
  auto* self = static_cast<Source*>(opaque);
  if (self->stop_->load()) return 1;
  const int64_t deadline = self->deadline_ms_.load();
  if (deadline != 0 && now_ms() > deadline) {
    self->timed_out_ = true;
    return 1;
  }
  return 0;
}

void Source::arm_deadline(int64_t ms) {
  timed_out_ = false;
  deadline_ms_ = ms > 0 ? now_ms() + ms : 0;
}

Source::Source(const InputConfig& in, const std::atomic<bool>& stop)
    : cfg_(in),
      kind_(source_kind_of(in)),
      stop_(&stop),
      name_(describe_input(in)),
      packet_(make_packet()),
      newer_(make_packet()) {
  const AvLogToDebug quiet;  // a failure is one SourceError line, not libav's lines as well
  OpenRequest req;
  kind_.open(in, req);
  newest_frame_only_ = req.newest_frame_only;
  finite_ = req.finite;
  fd_.fd = req.fd;
  if (fd_.fd >= 0) wait_readable(fd_.fd);
  const AVInputFormat* fmt = nullptr;
  if (req.demuxer && !(fmt = av_find_input_format(req.demuxer))) {
    throw SourceError(name_ + ": libavformat/libavdevice has no " + req.demuxer + " input");
  }
  AVFormatContext* ic = avformat_alloc_context();
  if (!ic || !packet_ || !newer_) throw SourceError(name_ + ": out of memory");
  ic->interrupt_callback = AVIOInterruptCB{&Source::interrupt_cb, this};
  ic->flags |= req.format_flags;
  arm_deadline(in.open_timeout_ms);
  int err = avformat_open_input(&ic, req.url.c_str(), fmt, req.options.ptr());  // frees ic on failure
  if (err < 0) {
    throw SourceError(name_ + ": cannot open: " +
                      (timed_out_ ? "no answer within " + std::to_string(in.open_timeout_ms) + " ms" : av_error_text(err)));
  }
  ic_.reset(ic);
  if (req.find_stream_info) {
    err = avformat_find_stream_info(ic_.get(), nullptr);
    if (err < 0) throw SourceError(name_ + ": cannot read stream info: " + av_error_text(err));
  }
  arm_deadline(0);
  const AVCodec* codec = nullptr;
  stream_index_ = av_find_best_stream(ic_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream_index_ < 0 || !codec) throw SourceError(name_ + ": no decodable video stream");
  AVStream* st = ic_->streams[stream_index_];
  for (unsigned i = 0; i < ic_->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_index_) ic_->streams[i]->discard = AVDISCARD_ALL;
  }
  time_base_ = st->time_base;
  rate_ = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  if (rate_.num <= 0 || rate_.den <= 0) rate_ = AVRational{0, 1};
  frame_us_ = rate_.num > 0 ? av_rescale(1000000, rate_.den, rate_.num) : 40000;
  codec_ = codec;
  const AVCodecDescriptor* desc = avcodec_descriptor_get(codec->id);
  intra_only_ = desc && (desc->props & AV_CODEC_PROP_INTRA_ONLY);
  err = open_decoder();
  if (err < 0) throw SourceError(name_ + ": cannot open the " + codec->name + " decoder: " + av_error_text(err));
  LOG_INFO("source %s: opened: %s %dx%d %s, %.3f fps", name_.c_str(), codec->name, dec_->width, dec_->height,
           av_get_pix_fmt_name(dec_->pix_fmt) ? av_get_pix_fmt_name(dec_->pix_fmt) : "?",
           rate_.num > 0 ? av_q2d(rate_) : 0.0);
}

Source::~Source() {
  // Closing may talk to the peer (RTSP TEARDOWN): never for long.
  arm_deadline(500);
  ic_.reset();
}

void Source::wait_readable(int fd) {
  const int64_t deadline = now_ms() + cfg_.open_timeout_ms;
  while (!*stop_) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, 100);
    if (n > 0 && (p.revents & POLLIN)) return;
    if (n > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) && fd == 0) return;  // stdin at its end: read says so
    if (now_ms() >= deadline) {
      throw SourceError(name_ + ": no writer within " + std::to_string(cfg_.open_timeout_ms) + " ms");
    }
  }
  throw SourceError(name_ + ": interrupted");
}

int Source::width() const { return dec_->width; }
int Source::height() const { return dec_->height; }

int Source::open_decoder() {
  const AVStream* st = ic_->streams[stream_index_];
  dec_.reset(avcodec_alloc_context3(codec_));
  if (!dec_) return AVERROR(ENOMEM);
  int err = avcodec_parameters_to_context(dec_.get(), st->codecpar);
  if (err < 0) return err;
  dec_->thread_count = 1;
  dec_->pkt_timebase = st->time_base;
  return avcodec_open2(dec_.get(), codec_, nullptr);
}

int Source::rewind() {
  int err = av_seek_frame(ic_.get(), -1, ic_->start_time != AV_NOPTS_VALUE ? ic_->start_time : 0, AVSEEK_FLAG_BACKWARD);
  if (err < 0) return err;
  // A fresh decoder, not a flushed one: mpeg1video keeps a smaller picture size it switched to
  // and then cannot decode the bigger first part again ("slice below image").
  if ((err = open_decoder()) < 0) return err;
  // Continue the timeline one frame after the last frame of this round.
  loop_offset_us_ = last_pts_us_ + frame_us_;
  first_pts_us_ = AV_NOPTS_VALUE;
  ++loops_;
  LOG_DEBUG("source %s: looped (%d)", name_.c_str(), loops_);
  return 0;
}

int Source::read(AVFrame* out) {
  int64_t waiting_since = 0;
  while (true) {
    if (*stop_) return AVERROR_EXIT;
    int err = avcodec_receive_frame(dec_.get(), out);
    if (err == 0) {
      int64_t pts = out->best_effort_timestamp;
      int64_t us;
      if (pts == AV_NOPTS_VALUE) {
        us = synthetic_pts_us_;
      } else {
        const int64_t raw = av_rescale_q(pts, time_base_, AVRational{1, 1000000});
        if (first_pts_us_ == AV_NOPTS_VALUE) first_pts_us_ = raw;
        us = raw - first_pts_us_ + loop_offset_us_;
      }
      if (last_pts_us_ > 0 && (us + frame_us_ / 2 < last_pts_us_ || us > last_pts_us_ + 10000000)) {
        // A timestamp discontinuity (files joined, an encoder restarted): continue the timeline
        // one frame on, instead of clamping (which released the rest in a burst when paced).
        loop_offset_us_ += last_pts_us_ + frame_us_ - us;
        us = last_pts_us_ + frame_us_;
      }
      if (us < last_pts_us_) us = last_pts_us_;  // never backwards
      last_pts_us_ = us;
      synthetic_pts_us_ = us + frame_us_;
      out->pts = us;
      return 0;
    }
    if (err == AVERROR_EOF) {
      if (kind_.loops && cfg_.loop) {
        draining_ = false;
        if ((err = rewind()) < 0) return err;
        continue;
      }
      return AVERROR_EOF;
    }
    if (err != AVERROR(EAGAIN)) return err;
    if (draining_) return AVERROR_EOF;

    arm_deadline(cfg_.frame_timeout_ms);
    err = av_read_frame(ic_.get(), packet_.get());
    if (err == AVERROR_EXIT && timed_out_) return AVERROR(ETIMEDOUT);
    if (err == AVERROR(EAGAIN)) {  // non-blocking device without a frame yet
      const int64_t now = now_ms();
      if (waiting_since == 0) waiting_since = now;
      if (now - waiting_since > cfg_.frame_timeout_ms) return AVERROR(ETIMEDOUT);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    waiting_since = 0;
    if (err == AVERROR_EOF) {
      draining_ = true;
      avcodec_send_packet(dec_.get(), nullptr);
      continue;
    }
    if (err < 0) return err;
    if (packet_->stream_index != stream_index_) {
      av_packet_unref(packet_.get());
      continue;
    }
    if (newest_frame_only_ && intra_only_) {
      // Behind the camera? Then newer frames are already queued: take the newest one.
      while (av_read_frame(ic_.get(), newer_.get()) >= 0) {
        if (newer_->stream_index != stream_index_) {
          av_packet_unref(newer_.get());
          continue;
        }
        av_packet_unref(packet_.get());
        av_packet_move_ref(packet_.get(), newer_.get());
        ++skipped_;
      }
    }
    err = avcodec_send_packet(dec_.get(), packet_.get());
    av_packet_unref(packet_.get());
    if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_INVALIDDATA) return err;
  }
}

}  // namespace mpegcast::capture
