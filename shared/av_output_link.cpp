#include "av_output_link.h"

#include <chrono>
#include <mutex>

extern "C" {
#include <libavformat/avformat.h>
}

#include "av_output_options.h"
#include "backoff.h"
#include "clock.h"
#include "ff_io.h"
#include "log.h"
#include "ts_packet.h"
#include "url.h"

namespace mpegcast {
namespace {
constexpr int kPopTimeoutMs = 200;        // how often an idle sender looks at set_active()
constexpr int64_t kStableConnectionMs = 5000;  // a connection that held this long resets the backoff
}  // namespace

const char* to_string(AvOutputState s) {
  switch (s) {
    case AvOutputState::idle: return "idle";
    case AvOutputState::connecting: return "connecting";
    case AvOutputState::connected: return "connected";
    case AvOutputState::waiting: return "down";
    case AvOutputState::stopped: return "stopped";
  }
  return "?";
}

AvOutputLink::AvOutputLink(AvOutputConfig cfg, std::string log_name)
    : cfg_(std::move(cfg)),
      log_url_(redact_url(cfg_.url)),
      log_name_(std::move(log_name)),
      queue_(cfg_.queue_ms, static_cast<size_t>(cfg_.queue_bytes)) {}

AvOutputLink::~AvOutputLink() {
  if (thread_.joinable()) {
    begin_stop(0);
    join();
  }
}

void AvOutputLink::start() {
  static std::once_flag network_init;
  std::call_once(network_init, [] { avformat_network_init(); });
  thread_ = std::thread([this] { run(); });
}

void AvOutputLink::set_active(bool active) {
  if (active_.exchange(active) == active) return;
  std::lock_guard<std::mutex> lock(wait_mu_);
  wait_cv_.notify_all();
}

void AvOutputLink::begin_stop(int64_t grace_ms) {
  stop_deadline_ms_ = now_ms() + grace_ms;
  stopping_ = true;
  queue_.close();
  std::lock_guard<std::mutex> lock(wait_mu_);
  wait_cv_.notify_all();
}

void AvOutputLink::join() {
  if (thread_.joinable()) thread_.join();
}

AvOutputStatus AvOutputLink::status() const {
  AvOutputStatus s;
  s.url = log_url_;
  s.state = state_.load();
  s.queue = queue_.stats();
  s.bytes_sent = bytes_sent_.load();
  s.connects = connects_.load();
  s.failures = failures_.load();
  std::lock_guard<std::mutex> lock(error_mu_);
  s.last_error = last_error_;
  return s;
}

int AvOutputLink::interrupt_cb(void* opaque) {
  auto* self = static_cast<AvOutputLink*>(opaque);
  const int64_t now = now_ms();
  if (self->stopping_ && now >= self->stop_deadline_ms_) return 1;
  if (!self->active_ && !self->stopping_) return 1;  // paused: give up a connect or write at once
  const int64_t started = self->op_started_ms_.load();
  if (started != 0 && now - started > self->cfg_.rw_timeout_ms) {
    self->timed_out_ = true;
    return 1;
  }
  return 0;
}

std::string AvOutputLink::reason(int err) const {
  if (timed_out_) return "no progress for " + std::to_string(cfg_.rw_timeout_ms) + " ms";
  if (err == AVERROR_EXIT && stopping_) return "interrupted by shutdown";
  if (err == AVERROR_EXIT && !active_) return "interrupted: paused";
  return av_error_text(err);
}

void AvOutputLink::failed(const std::string& why) {
  ++failures_;
  std::lock_guard<std::mutex> lock(error_mu_);
  last_error_ = why;
}

void AvOutputLink::wait_ms(int64_t ms) {
  std::unique_lock<std::mutex> lock(wait_mu_);
  wait_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load() || !active_.load(); });
}

void AvOutputLink::wait_until_active() {
  std::unique_lock<std::mutex> lock(wait_mu_);
  wait_cv_.wait(lock, [&] { return stopping_.load() || active_.load(); });
}

AVIOContext* AvOutputLink::open(int& err) {
  Dict opts;
  add_av_output_options(cfg_, opts);
  AVIOInterruptCB cb{&AvOutputLink::interrupt_cb, this};
  AVIOContext* io = nullptr;
  timed_out_ = false;
  op_started_ms_ = now_ms();
  err = avio_open2(&io, cfg_.url.c_str(), AVIO_FLAG_WRITE, &cb, opts.ptr());
  op_started_ms_ = 0;
  if (err < 0) return nullptr;
  return io;
}

int AvOutputLink::write_chunk(AVIOContext* io, const uint8_t* data, size_t size) {
  timed_out_ = false;
  op_started_ms_ = now_ms();
  avio_write(io, data, static_cast<int>(size));
  avio_flush(io);
  op_started_ms_ = 0;
  if (io->error < 0) return io->error;
  bytes_sent_ += size;
  return 0;
}

AvOutputLink::Sent AvOutputLink::send(AVIOContext* io, int& err) {
  ChunkPtr chunk, psi;
  bool gap = false;
  while (true) {
    if (!active_ && !stopping_) return Sent::paused;
    switch (queue_.pop(chunk, gap, kPopTimeoutMs, &psi)) {
      case OutputQueue::Pop::closed: return Sent::stopped;
      case OutputQueue::Pop::timeout: continue;
      case OutputQueue::Pop::chunk: break;
    }
    if (gap && chunk->size() >= kTsPacketSize) {
      TsHeader h;
      const bool starts_with_pat = parse_ts_header(chunk->data(), h) && h.pid == kPidPat;
      if (!starts_with_pat && psi) {
        if ((err = write_chunk(io, psi->data(), psi->size())) < 0) return Sent::failed;
      }
    }
    if ((err = write_chunk(io, chunk->data(), chunk->size())) < 0) return Sent::failed;
    chunk.reset();
    psi.reset();
  }
}

void AvOutputLink::close_now(OpenIoPtr& io) {
  timed_out_ = false;
  op_started_ms_ = now_ms();
  io.reset();
  op_started_ms_ = 0;
}

void AvOutputLink::run() {
  Backoff backoff(cfg_.reconnect_initial_ms, cfg_.reconnect_max_ms);
  std::string last_failure;
  while (!stopping_) {
    if (!active_) {
      state_ = AvOutputState::idle;
      queue_.clear();
      wait_until_active();
      backoff.reset();
      last_failure.clear();
      continue;
    }
    state_ = AvOutputState::connecting;
    int err = 0;
    OpenIoPtr io(open(err));
    if (!io) {
      if (stopping_ || !active_) continue;
      const int64_t delay = backoff.next_delay_ms();
      const std::string why = reason(err);
      failed(why);
      if (why != last_failure) {
        LOG_WARN("%s: connect failed: %s; retry in %lld ms", log_name_.c_str(), why.c_str(),
                 static_cast<long long>(delay));
        last_failure = why;
      } else {
        LOG_DEBUG("%s: connect failed: %s; retry in %lld ms", log_name_.c_str(), why.c_str(),
                  static_cast<long long>(delay));
      }
      state_ = AvOutputState::waiting;
      wait_ms(delay);
      continue;
    }
    last_failure.clear();
    ++connects_;
    state_ = AvOutputState::connected;
    LOG_NOTICE("%s: connected", log_name_.c_str());
    const int64_t connected_ms = now_ms();
    queue_.restart();
    const Sent sent = send(io.get(), err);
    if (sent == Sent::stopped) {  // queue closed: orderly end (avio_closep flushes and ends the HTTP body)
      io.reset();
      LOG_INFO("%s: closed", log_name_.c_str());
      break;
    }
    if (sent == Sent::paused) {  // the owner says so and logs why
      close_now(io);
      continue;
    }
    const std::string why = reason(err);
    close_now(io);
    if (stopping_) break;
    if (!active_) continue;
    failed(why);
    if (now_ms() - connected_ms >= kStableConnectionMs) backoff.reset();  // it worked for a while: retry soon
    const int64_t delay = backoff.next_delay_ms();
    LOG_WARN("%s: lost: %s; retry in %lld ms", log_name_.c_str(), why.c_str(), static_cast<long long>(delay));
    state_ = AvOutputState::waiting;
    wait_ms(delay);
  }
  state_ = AvOutputState::stopped;
}

}  // namespace mpegcast
