#include "push_link.h"

#include <algorithm>

#include "cascade_via.h"
#include "clock.h"
#include "link_scheme.h"
#include "log.h"
#include "relay_state.h"

namespace mpegcast::relay {
namespace {
constexpr int64_t kTimerMs = 200;  // link housekeeping period
}

PushLink::PushLink(lws_context* context, lws_vhost* vhost, RelayState& relay, const PushConfig& cfg)
    : context_(context),
      relay_(relay),
      cfg_(cfg),
      carries_via_(find_link_scheme(cfg.target.scheme)->carries_via),
      name_("push " + cfg.stream + " to " + redact_url(cfg.url)),
      idle_close_ms_(std::max<int64_t>(1000, relay.config.publisher_timeout_s * 1000 / 2)),
      follower_(
          relay.hub, cfg.stream, idle_close_ms_,
          [this] {
            if (conn_.up() && !conn_.closing()) conn_.request_writable();
          },
          [this](SubscriberClose why) {
            conn_.set_error(std::string("closed by the local hub: ") + to_string(why), true);
            conn_.drop();
          }),
      wire_(make_push_wire(cfg.target.scheme)),
      conn_(relay, vhost, name_, "downstream", cfg.target, find_link_scheme(cfg.target.scheme)->transport, *this) {}

PushLink::~PushLink() { lws_sul_cancel(&timer_.sul); }

void PushLink::start() {
  LOG_INFO("%s: waiting for local data (%s link)", name_.c_str(), cfg_.target.scheme.c_str());
  timer_.self = this;
  lws_sul_schedule(context_, 0, &timer_.sul, &PushLink::on_timer, kTimerMs * LWS_US_PER_MS);
}

void PushLink::on_timer(lws_sorted_usec_list_t* sul) {
  PushLink* self = lws_container_of(sul, Timer, sul)->self;
  self->tick(now_ms());
  lws_sul_schedule(self->context_, 0, &self->timer_.sul, &PushLink::on_timer, kTimerMs * LWS_US_PER_MS);
}

void PushLink::tick(int64_t now) {
  const bool live = follower_.live(now);
  conn_.tick(now);
  switch (conn_.state()) {
    case OutboundConnection::State::idle:
      if (live) conn_.connect();
      break;
    case OutboundConnection::State::backoff:
      if (conn_.retry_due(now)) {
        if (live) {
          conn_.connect();
        } else {
          conn_.cancel_retry();
        }
      }
      break;
    case OutboundConnection::State::resolving:
    case OutboundConnection::State::connecting:
      break;  // lws times the connect out (context timeout_secs)
    case OutboundConnection::State::connected:
      if (conn_.closing()) break;
      if (!live) {
        closing_ = Closing::idle;
        conn_.close();
      } else if (carries_via_ && follower_.publisher_changed()) {
        closing_ = Closing::reconnect;
        conn_.close();
      }
      break;
  }
}

bool PushLink::on_up() {
  closing_ = Closing::no;
  if (std::optional<HubError> err = follower_.subscribe(now_ms())) {
    conn_.set_error(std::string("local subscription refused: ") + to_string(*err));
    return false;
  }
  wire_->start(conn_.target().path + (conn_.target().query.empty() ? "" : "?" + conn_.target().query),
               conn_.host_header(), via_value());
  conn_.request_writable();
  return true;
}

int PushLink::on_writable() {
  lws* wsi = conn_.wsi();
  if (conn_.closing()) {
    wire_->finish(wsi);  // ends an HTTP body properly (the ingest then logs a finished request)
    return -1;
  }
  if (wire_->preamble_pending()) {
    if (!wire_->write_preamble(wsi)) {
      conn_.set_error("cannot write the request head");
      return -1;
    }
    if (follower_.has_data()) {
      conn_.request_writable();
    } else {
      follower_.next(now_ms());  // finds nothing and parks: the hub wakes the link with the next chunk
    }
    return 0;
  }
  const Chunk* c = follower_.next(now_ms());
  if (!c || c->empty()) return 0;
  if (!wire_->write_chunk(wsi, *c)) {
    conn_.set_error("write failed");
    return -1;
  }
  bytes_out_ += c->size();
  if (follower_.has_data()) conn_.request_writable();
  return 0;
}

int PushLink::on_rx(const uint8_t* data, size_t len) {
  if (std::optional<std::string> end = wire_->on_rx(data, len)) {
    conn_.set_error(*end);
    return -1;
  }
  return 0;
}

void PushLink::on_down(bool failed) {
  follower_.unsubscribe();
  const Closing why = closing_;
  closing_ = Closing::no;
  if (failed) return;  // logged and retried by the connection
  if (why == Closing::idle) {
    LOG_NOTICE("%s: disconnected: local stream idle (no publisher or no data for %lld ms); reconnects when data flows",
               name_.c_str(), static_cast<long long>(idle_close_ms_));
  } else if (why == Closing::reconnect) {
    LOG_INFO("%s: local stream has a new publisher; reconnecting to send its path", name_.c_str());
    conn_.connect();
  }
}

std::string PushLink::handshake_headers() {
  return carries_via_ ? std::string(kViaHeader) + ": " + via_value() + "\r\n" : std::string();
}

std::string PushLink::via_value() const {
  std::vector<std::string> via = follower_.via();
  via.push_back(relay_.node_id);
  return format_via(via);
}

PushLinkStats PushLink::stats() const {
  PushLinkStats s;
  s.stream = cfg_.stream;
  s.url = redact_url(cfg_.url);
  s.connected = conn_.up() && !wire_->preamble_pending();
  s.bytes_out = bytes_out_;
  s.connects = conn_.connects();
  s.failures = conn_.failures();
  s.last_error = conn_.last_error();
  return s;
}

}  // namespace mpegcast::relay
