#include "source_reader.h"

#include <chrono>

#include "clock.h"
#include "log.h"

namespace mpegcast::capture {
namespace {
constexpr int64_t kStableSourceMs = 10000;  // a source that delivered this long resets the backoff
}

SourceReader::SourceReader(const InputConfig& in, std::unique_ptr<Source> first, std::string first_error, int width,
                           int height, FrameMailbox& mailbox, PipelineCounters& counters)
    : in_(in),
      name_(describe_input(in)),
      width_(width),
      height_(height),
      mailbox_(mailbox),
      counters_(counters),
      source_(std::move(first)),
      scaler_(width, height),
      backoff_(in.reopen_initial_ms, in.reopen_max_ms),
      last_error_(std::move(first_error)) {
  // The start-up source was opened against a flag that lives only as long as Pipeline::open():
  // from here on our interrupt_ stops it, as it stops every source this reader reopens.
  if (source_) source_->set_stop(interrupt_);
}

SourceReader::~SourceReader() { stop(); }

void SourceReader::start() {
  opened_ms_ = now_ms();
  if (!source_) retry_delay_ms_ = backoff_.next_delay_ms();  // the start-up open just failed
  mailbox_.set_state(source_ ? SourceState::live : SourceState::reopening);
  thread_ = std::thread([this] { run(); });
}

void SourceReader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    interrupt_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  source_.reset();
}

void SourceReader::set_paused(bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = paused;
  interrupt_ = stop_ || paused_;
  cv_.notify_all();
}

bool SourceReader::sleep_until_us(int64_t t_us) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_ && !paused_) {
    const int64_t left_us = t_us - now_us();
    if (left_us <= 0) return true;
    cv_.wait_for(lock, std::chrono::microseconds(left_us));
  }
  return false;
}

void SourceReader::run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) break;
      if (paused_) {
        if (source_) {
          source_.reset();
          LOG_INFO("source %s: closed (paused)", name_.c_str());
        }
        mailbox_.set_state(SourceState::paused);
        cv_.wait(lock, [&] { return stop_ || !paused_; });
        backoff_.reset();
        retry_delay_ms_ = 0;  // resumed: open at once
        continue;
      }
    }
    if (!source_ && !reopen()) continue;
    read_until_lost();
    if (mailbox_.state() == SourceState::ended) break;
  }
}

bool SourceReader::reopen() {
  mailbox_.set_state(SourceState::reopening);
  if (retry_delay_ms_ > 0 && !sleep_until_us(now_us() + retry_delay_ms_ * 1000)) return false;
  try {
    source_ = std::make_unique<Source>(in_, interrupt_);
  } catch (const SourceError& e) {
    if (interrupted()) return false;
    retry_delay_ms_ = backoff_.next_delay_ms();
    const std::string why = e.what();
    if (why != last_error_) {  // one line per distinct failure, not one per attempt
      LOG_WARN("%s; retry in %lld ms", why.c_str(), static_cast<long long>(retry_delay_ms_));
      last_error_ = why;
    } else {
      LOG_DEBUG("%s; retry in %lld ms", why.c_str(), static_cast<long long>(retry_delay_ms_));
    }
    return false;
  }
  ++counters_.source_reopens;
  last_error_.clear();
  opened_ms_ = now_ms();
  pacer_.reset();
  lag_.reset();
  skipped_seen_ = 0;
  mailbox_.set_state(SourceState::live);
  LOG_NOTICE("source %s: reopened", name_.c_str());
  return true;
}

void SourceReader::lost(const std::string& why) {
  if (now_ms() - opened_ms_ >= kStableSourceMs) backoff_.reset();  // it worked for a while: retry soon
  retry_delay_ms_ = backoff_.next_delay_ms();
  LOG_WARN("source %s: lost: %s; reopening in %lld ms", name_.c_str(), why.c_str(),
           static_cast<long long>(retry_delay_ms_));
  source_.reset();
  mailbox_.set_state(SourceState::reopening);
}

void SourceReader::read_until_lost() {
  FramePtr frame = make_frame();
  while (!interrupted()) {
    const int err = source_->read(frame.get());
    if (err == AVERROR_EXIT) {
      if (interrupted()) return;  // stop or pause: run() handles both
      lost("read interrupted");   // anything else: reopen rather than spin on a sticky I/O error
      return;
    }
    if (err == AVERROR_EOF && source_->finite()) {
      if (in_.on_end == "exit") {
        LOG_NOTICE("source %s: end of input", name_.c_str());
        mailbox_.set_state(SourceState::ended);
        return;
      }
      lost("end of input (on_end = \"slate\")");
      return;
    }
    if (err == AVERROR(ETIMEDOUT)) {
      lost("no frame for " + std::to_string(in_.frame_timeout_ms) + " ms");
      return;
    }
    if (err == AVERROR_EOF) {
      lost("end of stream");
      return;
    }
    if (err < 0) {
      lost(av_error_text(err));
      return;
    }
    ++counters_.frames_in;
    if (source_->skipped() != skipped_seen_) {
      counters_.frames_dropped += source_->skipped() - skipped_seen_;
      skipped_seen_ = source_->skipped();
    }
    deliver(frame.get());
    av_frame_unref(frame.get());
  }
}

void SourceReader::deliver(AVFrame* frame) {
  int64_t t_us = now_us();
  if (source_->live()) {
    counters_.source_behind_ms = lag_.on_frame(frame->pts, t_us);
  } else {
    const int64_t due = pacer_.due_us(frame->pts, t_us);
    counters_.source_behind_ms = std::max<int64_t>(0, (t_us - due) / 1000);
    if (!sleep_until_us(due)) return;
    t_us = due;
  }
  if ((frame->width != last_width_ || frame->height != last_height_) && frame->width > 0) {
    if (last_width_ > 0) {
      LOG_NOTICE("source %s: picture size changed from %dx%d to %dx%d: scaled to %dx%d", name_.c_str(), last_width_,
                 last_height_, frame->width, frame->height, width_, height_);
    }
    last_width_ = frame->width;
    last_height_ = frame->height;
  }
  FramePtr picture = scaler_.convert(frame);
  if (!picture) {
    ++counters_.frames_dropped;
    LOG_DEBUG("source %s: cannot convert a %dx%d frame", name_.c_str(), frame->width, frame->height);
    return;
  }
  if (mailbox_.post(std::move(picture), t_us)) ++counters_.frames_dropped;
}

}  // namespace mpegcast::capture
