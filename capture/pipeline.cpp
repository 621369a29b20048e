#include "pipeline.h"

#include <chrono>
#include <cmath>
#include <thread>

#include "backoff.h"
#include "clock.h"
#include "log.h"

namespace mpegcast::capture {

Pipeline::Pipeline(const CaptureConfig& cfg, std::vector<AvOutputLink*> targets) : cfg_(cfg), targets_(std::move(targets)) {
  heartbeat_ms_ = now_ms();
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::open() {
  source_ = std::make_unique<Source>(cfg_.input, stop_);
  const int width = cfg_.output.width > 0 ? cfg_.output.width : (source_->width() + 1) / 2 * 2;
  const int height = cfg_.output.height > 0 ? cfg_.output.height : (source_->height() + 1) / 2 * 2;
  if (width <= 0 || height <= 0) throw SourceError(source_->name() + ": unknown picture size; set output.width/height");

  const VideoCodec* codec = find_video_codec(cfg_.output.codec);
  if (!codec) throw std::runtime_error("encoder: unknown codec \"" + cfg_.output.codec + "\"");
  AVRational wanted = source_->frame_rate();
  if (cfg_.output.framerate > 0) wanted = av_d2q(cfg_.output.framerate, 1001000);
  const AVRational rate = codec->encoder_rate(wanted);
  if (wanted.num <= 0) {
    LOG_NOTICE("source %s: frame rate unknown: encoding at %.3f fps", source_->name().c_str(), av_q2d(rate));
  } else if (av_cmp_q(wanted, rate) != 0 && std::abs(av_q2d(wanted) - av_q2d(rate)) > 0.01) {
    LOG_NOTICE("frame rate %.3f fps is not a %s rate: encoding at the nearest one, %.3f fps "
               "(frames dropped or repeated by timestamp)",
               av_q2d(wanted), std::string(codec->name).c_str(), av_q2d(rate));
  }
  encoder_ = std::make_unique<Encoder>(*codec, width, height, rate, cfg_.output);
  muxer_ = std::make_unique<TsMuxer>(encoder_->context(), [this](ChunkPtr chunk, const ChunkPtr& psi) {
    counters_.bytes_out += chunk->size();
    for (AvOutputLink* t : targets_) t->push(chunk, psi);
  });
  scaler_ = std::make_unique<Scaler>(width, height);
  mapper_ = std::make_unique<FrameRateMapper>(rate);
  LOG_INFO("encoder: %s %dx%d %.3f fps, %lld bit/s (max %lld), GOP %d frames", encoder_->name(), width, height, av_q2d(rate),
           static_cast<long long>(cfg_.output.bitrate_bps), static_cast<long long>(cfg_.output.maxrate_bps),
           encoder_->gop_frames());
}

void Pipeline::start() {
  start_us_ = now_us();
  source_opened_ms_ = now_ms();
  thread_ = std::thread([this] { run(); });
}

void Pipeline::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (flushed_) return;
  flushed_ = true;
  if (encoder_ && muxer_) {
    encoder_->encode(nullptr, [this](AVPacket* p) { return muxer_->write(p); });
    muxer_->finish();
  }
  source_.reset();
}

bool Pipeline::sleep_until_us(int64_t t_us) {
  while (!stop_) {
    const int64_t left = t_us - now_us();
    if (left <= 0) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(left, 50000)));
    heartbeat_ms_ = now_ms();
  }
  return false;
}

int Pipeline::encode_and_mux(const AVFrame* frame) {
  return encoder_->encode(frame, [this](AVPacket* p) { return muxer_->write(p); });
}

int Pipeline::process(AVFrame* frame) {
  ++counters_.frames_in;
  int64_t wall_us;
  if (source_->live()) {
    wall_us = now_us();
  } else {
    // Real-time pacing: frame pts (µs) mapped onto the wall clock; rebase after a stall.
    const int64_t now = now_us();
    if (pace_base_wall_us_ < 0) {
      pace_base_wall_us_ = now;
      pace_base_pts_us_ = frame->pts;
    }
    wall_us = pace_base_wall_us_ + (frame->pts - pace_base_pts_us_);
    if (wall_us < now - 1000000 || wall_us > now + 2000000) {
      pace_base_wall_us_ = now;
      pace_base_pts_us_ = frame->pts;
      wall_us = now;
    }
    if (!sleep_until_us(wall_us)) return 0;
  }
  int64_t first = 0;
  const int copies = mapper_->map(wall_us - start_us_, first);
  if (copies == 0) {
    ++counters_.frames_dropped;
    return 0;
  }
  FramePtr picture = scaler_->convert(frame);
  if (!picture) {
    ++counters_.frames_dropped;
    LOG_DEBUG("scaler: cannot convert a %dx%d frame", frame->width, frame->height);
    return 0;
  }
  for (int i = 0; i < copies; ++i) {
    FramePtr copy(i == 0 ? nullptr : av_frame_clone(picture.get()));
    AVFrame* f = i == 0 ? picture.get() : copy.get();
    if (!f) break;
    f->pts = first + i;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    const int err = encode_and_mux(f);
    if (err < 0) return err;
    ++counters_.frames_out;
    if (i > 0) ++counters_.frames_repeated;
  }
  return 0;
}

void Pipeline::reopen_source() {
  source_.reset();
  ++counters_.source_reopens;
  if (now_ms() - source_opened_ms_ >= 10000) reopen_backoff_.reset();  // it worked for a while
  Backoff& backoff = reopen_backoff_;
  int64_t delay = backoff.next_delay_ms();
  while (!stop_) {
    const int64_t until = now_ms() + delay;
    while (!stop_ && now_ms() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, until - now_ms() + 1)));
      heartbeat_ms_ = now_ms();
    }
    if (stop_) return;
    try {
      source_ = std::make_unique<Source>(cfg_.input, stop_);
      pace_base_wall_us_ = -1;
      source_opened_ms_ = now_ms();
      skipped_seen_ = 0;
      LOG_NOTICE("source %s: reopened", source_->name().c_str());
      return;
    } catch (const SourceError& e) {
      delay = backoff.next_delay_ms();
      LOG_WARN("%s; retry in %lld ms", e.what(), static_cast<long long>(delay));
    }
  }
}

void Pipeline::run() {
  FramePtr frame = make_frame();
  while (!stop_) {
    heartbeat_ms_ = now_ms();
    if (!source_) {
      reopen_source();
      continue;
    }
    const int err = source_->read(frame.get());
    if (err == AVERROR_EXIT) break;
    if (err == AVERROR_EOF && !source_->live()) {
      LOG_NOTICE("source %s: end of input", source_->name().c_str());
      break;
    }
    if (err < 0) {
      if (err == AVERROR(ETIMEDOUT)) {
        LOG_WARN("source %s: lost: no frame for %lld ms; reopening", source_->name().c_str(),
                 static_cast<long long>(cfg_.input.frame_timeout_ms));
      } else {
        LOG_WARN("source %s: lost: %s; reopening", source_->name().c_str(), av_error_text(err).c_str());
      }
      source_.reset();
      continue;
    }
    if (source_->skipped() != skipped_seen_) {
      counters_.frames_dropped += source_->skipped() - skipped_seen_;
      skipped_seen_ = source_->skipped();
    }
    const int perr = process(frame.get());
    av_frame_unref(frame.get());
    if (perr < 0) {
      LOG_ERR("encoder: %s", av_error_text(perr).c_str());
      exit_code_ = 1;
      break;
    }
  }
  finished_ = true;
}

}  // namespace mpegcast::capture
