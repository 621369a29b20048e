#include "target.h"

#include <chrono>

#include "backoff.h"
#include "clock.h"
#include "ff_ptr.h"
#include "log.h"
#include "ts_packet.h"
#include "url.h"

namespace mpegcast::capture {

const char* target_state_name(TargetState s) {
  switch (s) {
    case TargetState::idle: return "idle";
    case TargetState::connecting: return "connecting";
    case TargetState::connected: return "connected";
    case TargetState::waiting: return "down";
    case TargetState::stopped: return "stopped";
  }
  return "?";
}

Target::Target(TargetConfig cfg, PsiSource psi)
    : cfg_(std::move(cfg)),
      log_url_(redact_url(cfg_.url)),
      psi_(std::move(psi)),
      queue_(cfg_.queue_ms, static_cast<size_t>(cfg_.queue_bytes)) {}

Target::~Target() {
  if (thread_.joinable()) {
    begin_stop(0);
    join();
  }
}

void Target::start() { thread_ = std::thread([this] { run(); }); }

void Target::begin_stop(int64_t grace_ms) {
  stop_deadline_ms_ = now_ms() + grace_ms;
  stopping_ = true;
  queue_.close();
  std::lock_guard<std::mutex> lock(wait_mu_);
  wait_cv_.notify_all();
}

void Target::join() {
  if (thread_.joinable()) thread_.join();
}

TargetStatus Target::status() const {
  TargetStatus s;
  s.url = log_url_;
  s.state = state_.load();
  s.queue = queue_.stats();
  s.bytes_sent = bytes_sent_.load();
  s.connects = connects_.load();
  return s;
}

int Target::interrupt_cb(void* opaque) {
  auto* self = static_cast<Target*>(opaque);
  const int64_t now = now_ms();
  if (self->stopping_ && now >= self->stop_deadline_ms_) return 1;
  const int64_t started = self->op_started_ms_.load();
  if (started != 0 && now - started > self->cfg_.rw_timeout_ms) {
    self->timed_out_ = true;
    return 1;
  }
  return 0;
}

std::string Target::reason(int err) const {
  if (timed_out_) return "no progress for " + std::to_string(cfg_.rw_timeout_ms) + " ms";
  if (err == AVERROR_EXIT && stopping_) return "interrupted by shutdown";
  return av_error_text(err);
}

void Target::wait_ms(int64_t ms) {
  std::unique_lock<std::mutex> lock(wait_mu_);
  wait_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load(); });
}

AVIOContext* Target::open(int& err) {
  Dict opts;
  const int64_t timeout_us = cfg_.rw_timeout_ms * 1000;
  opts.set("rw_timeout", timeout_us);
  auto u = parse_url(cfg_.url);
  const std::string scheme = u ? u->scheme : "";
  if (scheme == "http" || scheme == "https") {
    opts.set("method", "POST");
    opts.set("chunked_post", 1);
    opts.set("multiple_requests", 0);
    opts.set("user_agent", "mpegcast-capture");
    opts.set("content_type", "video/mp2t");
  }
  if (scheme == "tcp" || scheme == "http" || scheme == "https") {
    opts.set("timeout", timeout_us);
    // A small kernel send buffer keeps the lag in our queue, where it is measured and bounded.
    if (cfg_.send_buffer_bytes > 0) opts.set("send_buffer_size", cfg_.send_buffer_bytes);
  }
  if (scheme == "udp" && (!u || u->query.find("pkt_size") == std::string::npos)) opts.set("pkt_size", static_cast<int>(7 * kTsPacketSize));
  AVIOInterruptCB cb{&Target::interrupt_cb, this};
  AVIOContext* io = nullptr;
  timed_out_ = false;
  op_started_ms_ = now_ms();
  err = avio_open2(&io, cfg_.url.c_str(), AVIO_FLAG_WRITE, &cb, opts.ptr());
  op_started_ms_ = 0;
  if (err < 0) return nullptr;
  return io;
}

int Target::write_chunk(AVIOContext* io, const uint8_t* data, size_t size) {
  timed_out_ = false;
  op_started_ms_ = now_ms();
  avio_write(io, data, static_cast<int>(size));
  avio_flush(io);
  op_started_ms_ = 0;
  if (io->error < 0) return io->error;
  bytes_sent_ += size;
  return 0;
}

int Target::send(AVIOContext* io) {
  ChunkPtr chunk;
  bool gap = false;
  while (true) {
    switch (queue_.pop(chunk, gap, 200)) {
      case TargetQueue::Pop::closed: return 0;
      case TargetQueue::Pop::timeout: continue;
      case TargetQueue::Pop::chunk: break;
    }
    if (gap && chunk->size() >= kTsPacketSize) {
      TsHeader h;
      const bool starts_with_pat = parse_ts_header(chunk->data(), h) && h.pid == kPidPat;
      if (!starts_with_pat && psi_) {
        if (ChunkPtr psi = psi_()) {
          if (int err = write_chunk(io, psi->data(), psi->size()); err < 0) return err;
        }
      }
    }
    if (int err = write_chunk(io, chunk->data(), chunk->size()); err < 0) return err;
    chunk.reset();
  }
}

void Target::run() {
  Backoff backoff(cfg_.reconnect_initial_ms, cfg_.reconnect_max_ms);
  std::string last_failure;
  while (!stopping_) {
    state_ = TargetState::connecting;
    int err = 0;
    OpenIoPtr io(open(err));
    if (!io) {
      if (stopping_) break;
      const int64_t delay = backoff.next_delay_ms();
      const std::string why = reason(err);
      if (why != last_failure) {
        LOG_WARN("target %s: connect failed: %s; retry in %lld ms", log_url_.c_str(), why.c_str(),
                 static_cast<long long>(delay));
        last_failure = why;
      } else {
        LOG_DEBUG("target %s: connect failed: %s; retry in %lld ms", log_url_.c_str(), why.c_str(),
                  static_cast<long long>(delay));
      }
      state_ = TargetState::waiting;
      wait_ms(delay);
      continue;
    }
    last_failure.clear();
    ++connects_;
    state_ = TargetState::connected;
    LOG_NOTICE("target %s: connected", log_url_.c_str());
    const int64_t connected_ms = now_ms();
    queue_.restart();
    err = send(io.get());
    if (err == 0) {  // queue closed: orderly end (avio_closep flushes and ends the HTTP body)
      io.reset();
      LOG_INFO("target %s: closed", log_url_.c_str());
      break;
    }
    const std::string why = reason(err);
    {
      // Close without waiting on a peer that does not read: it is already gone for us.
      timed_out_ = false;
      op_started_ms_ = now_ms();
      io.reset();
      op_started_ms_ = 0;
    }
    if (stopping_) break;
    if (now_ms() - connected_ms >= 5000) backoff.reset();  // it worked for a while: retry soon
    const int64_t delay = backoff.next_delay_ms();
    LOG_WARN("target %s: lost: %s; retry in %lld ms", log_url_.c_str(), why.c_str(), static_cast<long long>(delay));
    state_ = TargetState::waiting;
    wait_ms(delay);
  }
  state_ = TargetState::stopped;
}

}  // namespace mpegcast::capture
