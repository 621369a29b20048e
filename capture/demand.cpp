#include "demand.h"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

extern "C" {
#include <libavformat/avio.h>
#include <libavutil/error.h>
}

#include "av_log_bridge.h"
#include "clock.h"
#include "ff_io.h"
#include "log.h"
#include "url.h"

namespace mpegcast::capture {
namespace {
constexpr int kRelayDefaultViewerPort = 8080;
constexpr size_t kMaxBody = 256 * 1024;  // a stream document is ~1 KiB

std::string hms(long t) {
  const std::time_t tt = t;
  std::tm local{};
  localtime_r(&tt, &local);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &local);
  return buf;
}
}  // namespace

std::string default_demand_url(const std::string& target_url) {
  const auto u = parse_url(target_url);
  if (!u || (u->scheme != "http" && u->scheme != "https")) return {};
  const std::string prefix = "/publish/";
  if (u->path.rfind(prefix, 0) != 0) return {};
  const std::string name = u->path.substr(prefix.size());
  if (name.empty() || name.find('/') != std::string::npos) return {};
  const bool v6 = u->host.find(':') != std::string::npos;
  return u->scheme + "://" + (v6 ? "[" + u->host + "]" : u->host) + ":" + std::to_string(kRelayDefaultViewerPort) +
         "/api/v1/streams/" + name;
}

std::optional<int64_t> viewers_in_stream_json(std::string_view body) {
  const nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto it = j.find("viewers");
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  const int64_t v = it->get<int64_t>();
  if (v < 0) return std::nullopt;
  return v;
}

bool DemandPolicy::update(int64_t now_ms, std::optional<int64_t> viewers) {
  const bool demand = !viewers || *viewers > 0;
  if (demand) last_demand_ms_ = now_ms;
  if (first_) {
    first_ = false;
    encoding_ = demand;
    last_demand_ms_ = now_ms;
  } else if (demand) {
    encoding_ = true;
  } else if (encoding_ && now_ms - last_demand_ms_ >= linger_ms_) {
    encoding_ = false;
  }
  return encoding_;
}

DemandWatcher::DemandWatcher(DemandConfig cfg, std::function<void(bool)> on_change)
    : cfg_(std::move(cfg)), on_change_(std::move(on_change)), policy_(cfg_.linger_s * 1000) {
  errors_.resize(cfg_.urls.size());
}

DemandWatcher::~DemandWatcher() { stop(); }

void DemandWatcher::start() {
  for (const auto& url : cfg_.urls) {
    LOG_INFO("on demand: asking %s every %lld ms whether anyone watches (linger %lld s)", redact_url(url).c_str(),
             static_cast<long long>(cfg_.poll_ms), static_cast<long long>(cfg_.linger_s));
  }
  thread_ = std::thread([this] { run(); });
}

void DemandWatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(wait_mu_);
    stop_ = true;
  }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int DemandWatcher::interrupt_cb(void* opaque) {
  auto* self = static_cast<DemandWatcher*>(opaque);
  return self->stop_ || now_ms() > self->deadline_ms_ ? 1 : 0;
}

std::optional<int64_t> DemandWatcher::ask(const std::string& url, std::string& error) {
  const int64_t budget_ms = std::max<int64_t>(cfg_.poll_ms, 1000);
  deadline_ms_ = now_ms() + budget_ms;
  Dict opts;
  opts.set("user_agent", "mpegcast-capture");
  opts.set("rw_timeout", budget_ms * 1000);
  opts.set("reconnect", 0);
  opts.set("seekable", 0);
  if (!cfg_.token.empty()) opts.set("headers", ("Authorization: Bearer " + cfg_.token + "\r\n").c_str());
  const AVIOInterruptCB cb{&DemandWatcher::interrupt_cb, this};
  AVIOContext* raw = nullptr;
  int err;
  {
    const AvLogToDebug quiet;  // this function logs a failure once itself
    err = avio_open2(&raw, url.c_str(), AVIO_FLAG_READ, &cb, opts.ptr());
  }
  if (err == AVERROR_HTTP_NOT_FOUND) return 0;  // the relay does not know the stream: nobody waits for it
  if (err < 0) {
    error = av_error_text(err);
    return std::nullopt;
  }
  OpenIoPtr io(raw);
  std::string body;
  uint8_t buf[4096];
  while (body.size() < kMaxBody) {
    const int n = avio_read(io.get(), buf, sizeof buf);
    if (n == AVERROR_EOF) break;
    if (n < 0) {
      error = av_error_text(n);
      return std::nullopt;
    }
    body.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  const auto viewers = viewers_in_stream_json(body);
  if (!viewers) error = "the answer is not a stream document of the relay's API";
  return viewers;
}

void DemandWatcher::run() {
  while (!stop_) {
    std::optional<int64_t> total = 0;
    bool failed = false;
    for (size_t i = 0; i < cfg_.urls.size() && !stop_; ++i) {
      std::string error;
      const auto v = ask(cfg_.urls[i], error);
      if (v) *total += *v;
      failed |= !v;
      std::lock_guard<std::mutex> lock(status_mu_);
      if (error != errors_[i]) {
        if (!error.empty()) {
          LOG_WARN("on demand: %s: %s: encoding while it does not answer", redact_url(cfg_.urls[i]).c_str(),
                   error.c_str());
        } else {
          LOG_NOTICE("on demand: %s answers again", redact_url(cfg_.urls[i]).c_str());
        }
        errors_[i] = error;
      }
    }
    if (stop_) break;
    if (failed && *total == 0) total.reset();
    const bool was_decided = decided_;
    bool before, encode;
    {
      std::lock_guard<std::mutex> lock(status_mu_);
      before = policy_.encoding();
      encode = policy_.update(now_ms(), total);
      unknown_ = !total;
      viewers_ = total.value_or(0);
      if (!encode && (before || !was_decided)) paused_since_ = static_cast<long>(std::time(nullptr));
    }
    if (!was_decided || encode != before) {
      if (encode) {
        LOG_NOTICE("on demand: %s: encoding", total ? (std::to_string(*total) + " viewer(s)").c_str() : "demand unknown");
      } else {
        LOG_NOTICE("on demand: nobody watching%s: encoding paused", was_decided ? " for the linger time" : "");
      }
      decided_ = true;
      on_change_(encode);
    }
    std::unique_lock<std::mutex> lock(wait_mu_);
    wait_cv_.wait_for(lock, std::chrono::milliseconds(cfg_.poll_ms), [this] { return stop_.load(); });
  }
}

std::string DemandWatcher::describe() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  if (!decided_) return "asking the relays";
  if (unknown_) return "relay not answering: encoding";
  if (viewers_ > 0) return "watched (" + std::to_string(viewers_) + " viewers)";
  if (!policy_.encoding()) return "nobody watching: paused since " + hms(paused_since_);
  const int64_t left_ms = std::max<int64_t>(0, cfg_.linger_s * 1000 - (now_ms() - policy_.last_demand_ms()));
  return "nobody watching: pausing in " + std::to_string((left_ms + 999) / 1000) + " s";
}

}  // namespace mpegcast::capture
