#include "pull_link.h"

#include "cascade_via.h"
#include "clock.h"
#include "link_scheme.h"
#include "log.h"
#include "relay_state.h"

namespace mpegcast::relay {

// ------------------------------------------------------------------------------- Upstream

PullLink::Upstream::Upstream(PullLink& l, size_t i, lws_vhost* vhost, const Url& base, const std::string& url_text)
    : link(l), index(i), url(redact_url(url_text)), wire(make_pull_wire(base.scheme)) {
  Url target = base;
  target.path = wire->path_for(l.stream_);
  conn = std::make_unique<OutboundConnection>(l.relay_, vhost, l.name_ + " from " + url, "upstream", target,
                                              find_link_scheme(base.scheme)->transport, *this);
}

bool PullLink::Upstream::on_up() {
  accepted = false;
  const Url& t = conn->target();
  if (!wire->start(t.path + (t.query.empty() ? "" : "?" + t.query), conn->host_header(), link.via_value(), link)) {
    conn->set_error("stream taken by a local publisher");
    return false;
  }
  accepted = !wire->request_pending();  // a WebSocket is accepted once its handshake is done
  conn->request_writable();
  return true;
}

int PullLink::Upstream::on_writable() {
  if (conn->closing()) return -1;
  if (wire->request_pending() && !wire->write_request(conn->wsi())) {
    conn->set_error("cannot write the request");
    return -1;
  }
  return 0;
}

int PullLink::Upstream::on_rx(const uint8_t* data, size_t len) {
  if (std::optional<std::string> end = wire->on_rx(data, len, link)) {
    conn->set_error(*end);
    return -1;
  }
  return 0;
}

void PullLink::Upstream::on_down(bool failed) {
  accepted = false;
  link.on_upstream_down(index, failed);
}

std::string PullLink::Upstream::handshake_headers() { return std::string(kViaHeader) + ": " + link.via_value() + "\r\n"; }

// ------------------------------------------------------------------------------- PullLink

PullLink::PullLink(RelayState& relay, lws_vhost* vhost, const PullConfig& rule, std::string stream,
                   std::vector<std::string> demand_via)
    : relay_(relay), rule_(rule), stream_(std::move(stream)), demand_via_(std::move(demand_via)),
      name_("pull " + stream_) {
  for (size_t i = 0; i < rule.upstreams.size(); ++i) {
    upstreams_.push_back(std::make_unique<Upstream>(*this, i, vhost, rule.upstreams[i], rule.upstream_urls[i]));
  }
}

PullLink::~PullLink() {
  finished_ = true;  // on_down callbacks from the connections' destruction change nothing
  detach();
  upstreams_.clear();
}

void PullLink::start(int64_t now) {
  started_ms_ = now;
  started_wall_s_ = wall_time_s();
  LOG_INFO("%s: pulling from %s (%s)", name_.c_str(), upstreams_[0]->url.c_str(),
           rule_.on_demand ? "on demand" : "static");
  connect(0);
}

void PullLink::connect(size_t index) {
  current_ = index;
  upstreams_[index]->conn->connect();
}

std::string PullLink::via_value() const {
  std::vector<std::string> via = demand_via_;
  via.push_back(relay_.node_id);
  return format_via(via);
}

void PullLink::detach() {
  if (stream_ptr_) relay_.hub.detach_publisher(stream_ptr_, this);
  stream_ptr_ = nullptr;
}

bool PullLink::on_accepted(const std::string& via) {
  HubError err = HubError::none;
  Stream* st = relay_.hub.attach_publisher(stream_, this, "pull:" + upstreams_[current_]->url, false, now_ms(), err);
  if (!st) {
    LOG_INFO("%s: %s; not pulling", name_.c_str(), to_string(err));
    return false;
  }
  stream_ptr_ = st;
  st->via = parse_via(via);
  st->publisher_kind = "pull";
  st->publisher_protocol = rule_.upstreams[current_].scheme == "ws" ? "websocket" : "http";
  last_rx_ms_ = now_ms();
  tried_in_round_ = 0;
  LOG_NOTICE("%s: receiving from %s", name_.c_str(), upstreams_[current_]->url.c_str());
  return true;
}

bool PullLink::on_ts(const uint8_t* data, size_t len) {
  if (!stream_ptr_) return false;
  last_rx_ms_ = now_ms();
  bytes_in_ += len;
  if (relay_.hub.publish(stream_ptr_, data, len, last_rx_ms_) != PublishResult::ok) return false;
  if (!delivered_ && stream_ptr_->publisher_started()) delivered_ = true;
  return true;
}

void PullLink::taken_over() {
  stream_ptr_ = nullptr;
  LOG_NOTICE("%s: a local publisher took the stream over; stopping the pull", name_.c_str());
  stop("taken over");
}

void PullLink::on_upstream_down(size_t index, bool failed) {
  if (finished_) return;
  if (index == current_) detach();  // viewers stay and resume at the next publisher's keyframe
  if (!failed || index != current_) return;
  // Failover: the next upstream at once; after a whole round of failures, back off (upstream 0's
  // backoff, which its connection counts) and start over.
  ++tried_in_round_;
  if (tried_in_round_ < upstreams_.size()) {
    ++failovers_;
    const size_t next = (index + 1) % upstreams_.size();
    LOG_INFO("%s: failing over from %s to %s", name_.c_str(), upstreams_[index]->url.c_str(),
             upstreams_[next]->url.c_str());
    connect(next);
  }
}

void PullLink::demand(bool wanted, int64_t now) {
  if (!rule_.on_demand) return;
  stop_at_ms_ = wanted ? 0 : now + rule_.idle_timeout_s * 1000;
}

void PullLink::stop(const char* why) {
  if (finished_) return;
  LOG_INFO("%s: stopped (%s)", name_.c_str(), why);
  finished_ = true;
  detach();
  for (auto& u : upstreams_) {
    u->conn->cancel_retry();
    u->conn->close(1);
  }
}

void PullLink::tick(int64_t now) {
  if (finished_) return;
  for (auto& u : upstreams_) u->conn->tick(now);
  if (stop_at_ms_ != 0 && now >= stop_at_ms_) return stop("no local subscriber for idle_timeout_s");
  if (rule_.on_demand && !delivered_ && now - started_ms_ >= rule_.start_timeout_s * 1000) {
    const std::string& last = upstreams_[current_]->conn->last_error();
    LOG_WARN("%s: no upstream delivered the stream within %llds (start_timeout_s)%s%s; its viewers get 404 / close 4404",
             name_.c_str(), static_cast<long long>(rule_.start_timeout_s), last.empty() ? "" : "; last: ", last.c_str());
    stop("no upstream has the stream");
    relay_.hub.refuse_waiting(stream_);
    return;
  }
  Upstream& u = *upstreams_[current_];
  if (u.conn->up() && stream_ptr_ && now - last_rx_ms_ > relay_.config.publisher_timeout_s * 1000) {
    u.conn->set_error("upstream sent nothing for " + std::to_string(relay_.config.publisher_timeout_s) + "s");
    u.conn->drop();
    return;
  }
  if (tried_in_round_ >= upstreams_.size() && upstreams_[0]->conn->retry_due(now)) {
    tried_in_round_ = 0;
    connect(0);
  } else if (tried_in_round_ == 0 && u.conn->retry_due(now)) {
    connect(current_);
  }
}

PullLinkStats PullLink::stats() const {
  PullLinkStats s;
  const Upstream& u = *upstreams_[current_];
  s.stream = stream_;
  s.upstream = u.url;
  s.on_demand = rule_.on_demand;
  s.since_s = started_wall_s_;
  s.bytes_in = bytes_in_;
  s.failovers = failovers_;
  switch (u.conn->state()) {
    case OutboundConnection::State::connected: s.state = stream_ptr_ ? "receiving" : "requesting"; break;
    case OutboundConnection::State::backoff: s.state = "backoff"; break;
    case OutboundConnection::State::idle: s.state = finished_ ? "stopped" : "idle"; break;
    default: s.state = "connecting"; break;
  }
  for (const auto& up : upstreams_) {
    s.connects += up->conn->connects();
    s.failures += up->conn->failures();
    if (!up->conn->last_error().empty()) s.last_error = up->conn->last_error();
  }
  if (!u.conn->last_error().empty()) s.last_error = u.conn->last_error();
  if (stream_ptr_ && !stream_ptr_->via.empty()) s.peer_node = stream_ptr_->via.back();
  return s;
}

}  // namespace mpegcast::relay
