#include "raw_ingest.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <iterator>
#include <map>
#include <string>

#include "clock.h"
#include "connection_limit.h"
#include "log.h"
#include "log_limiter.h"
#include "publish_auth.h"
#include "pss_slot.h"
#include "relay_state.h"

namespace mpegcast::relay {
namespace {

bool stream_allows_takeover(const RelayState& relay, const std::string& name) {
  auto it = relay.config.streams.find(name);
  return it != relay.config.streams.end() && it->second.allow_takeover;
}

// ------------------------------------------------------------------------------------ TCP

/// One TCP connection publishing raw TS to its listener's stream.
class TcpPublisher final : public PublisherOwner {
 public:
  TcpPublisher(lws* wsi, RelayState& relay, const RawIngestConfig& cfg)
      : wsi_(wsi), relay_(relay), cfg_(cfg), peer_(peer_address(lws_get_socket_fd(wsi))) {}
  ~TcpPublisher() override { detach(); }

  /// Returns false (after one log line) when the connection must be closed at once.
  bool start() {
    ++relay_.counters.ingest_connections;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getpeername(lws_get_socket_fd(wsi_), reinterpret_cast<sockaddr*>(&ss), &len);
    if (!cfg_.allow.allows(reinterpret_cast<sockaddr*>(&ss))) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN,
                     "tcp ingest %s: refused for stream %s: not in allow list [%s]", peer_.c_str(),
                     cfg_.stream.c_str(), cfg_.allow_text.c_str());
      return false;
    }
    HubError err = HubError::none;
    stream_ = relay_.hub.attach_publisher(cfg_.stream, this, "tcp:" + peer_, stream_allows_takeover(relay_, cfg_.stream),
                                          now_ms(), err);
    if (!stream_) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "tcp ingest %s: refused for stream %s: %s",
                     peer_.c_str(), cfg_.stream.c_str(), to_string(err));
      return false;
    }
    stream_->publisher_protocol = "tcp";
    LOG_NOTICE("tcp ingest %s: publishing stream %s", peer_.c_str(), cfg_.stream.c_str());
    deadline_.attached_ms = now_ms();
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, deadline_.timeout_s(relay_, stream_, deadline_.attached_ms));
    return true;
  }

  int on_rx(const uint8_t* data, size_t len) {
    if (!stream_) return -1;
    last_rx_ms_ = now_ms();
    const PublishResult r = relay_.hub.publish(stream_, data, len, last_rx_ms_);
    if (r != PublishResult::ok) {
      ++relay_.counters.ingest_refused;
      MC_LOG_LIMITED(relay_.peer_log, address_of(peer_), LOG_WARN, "tcp ingest %s: stream %s: %s; closing",
                     peer_.c_str(), cfg_.stream.c_str(), to_string(r));
      return -1;
    }
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, deadline_.timeout_s(relay_, stream_, last_rx_ms_));
    return 0;
  }

  void on_close() {
    if (!stream_) return;
    log_publisher_end(relay_, "tcp ingest", peer_, cfg_.stream, stream_, deadline_, last_rx_ms_, now_ms());
    detach();
  }

  void taken_over() override {
    stream_ = nullptr;
    LOG_NOTICE("tcp ingest %s: stream %s taken over; closing", peer_.c_str(), cfg_.stream.c_str());
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }

 private:
  void detach() {
    if (stream_) relay_.hub.detach_publisher(stream_, this);
    stream_ = nullptr;
  }
  lws* wsi_;
  RelayState& relay_;
  const RawIngestConfig& cfg_;
  std::string peer_;
  Stream* stream_ = nullptr;
  PublisherDeadline deadline_;
  int64_t last_rx_ms_ = now_ms();
};

using TcpPss = PssSlot<TcpPublisher>;

int tcp_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<TcpPss*>(user);
  if (pss && session_ends(wsi, reason, tcp_callback)) {  // before lws frees the storage
    if (TcpPublisher* p = pss->get()) p->on_close();
    pss->destroy();
  }
  if (int rc = 0; account_connection(wsi, reason, in, rc)) return rc;
  switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT: {
      const auto* cfg = static_cast<const RawIngestConfig*>(lws_get_vhost_user(lws_get_vhost(wsi)));
      return pss->make(wsi, relay_state(wsi), *cfg)->start() ? 0 : -1;
    }
    case LWS_CALLBACK_RAW_RX:
      return pss->get() ? pss->get()->on_rx(static_cast<const uint8_t*>(in), len) : -1;
    default:
      return 0;
  }
}

}  // namespace

// ------------------------------------------------------------------------------------ UDP

/// A UDP socket whose datagrams are one stream's TS; the first allowed sender is the publisher
/// until it is silent for publisher_timeout_s.
class UdpIngest final : public PublisherOwner {
 public:
  UdpIngest(RelayState& relay, const RawIngestConfig& cfg) : relay_(relay), cfg_(cfg) {}
  ~UdpIngest() override {
    lws_sul_cancel(&timer_.sul);
    detach("relay stopping");
  }

  bool open(lws_vhost* vhost) {
    const bool multicast = !cfg_.multicast_group.empty();
    const std::string bind_host = multicast ? cfg_.multicast_group : cfg_.listen.host;
    wsi_ = lws_create_adopt_udp(vhost, bind_host.c_str(), cfg_.listen.port, LWS_CAUDP_BIND, "mpegcast-udp-ingest",
                                nullptr, nullptr, this, nullptr);
    if (!wsi_) {
      LOG_ERR("udp ingest: cannot bind %s:%d for stream %s", bind_host.c_str(), cfg_.listen.port, cfg_.stream.c_str());
      return false;
    }
    const int fd = lws_get_socket_fd(wsi_);
    int rcvbuf = 4 << 20;  // absorb bursts while the service thread is busy
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (multicast) {
      ip_mreq mreq{};
      inet_pton(AF_INET, cfg_.multicast_group.c_str(), &mreq.imr_multiaddr);
      if (cfg_.listen.host != "0.0.0.0") inet_pton(AF_INET, cfg_.listen.host.c_str(), &mreq.imr_interface);
      if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
        LOG_ERR("udp ingest: cannot join multicast group %s on %s: %s", cfg_.multicast_group.c_str(),
                cfg_.listen.host.c_str(), std::strerror(errno));
        return false;
      }
    }
    timer_.self = this;
    lws_sul_schedule(lws_get_context(wsi_), 0, &timer_.sul, &UdpIngest::on_timer, LWS_US_PER_SEC);
    LOG_NOTICE("udp ingest: stream %s on udp://%s:%d%s%s", cfg_.stream.c_str(), bind_host.c_str(), cfg_.listen.port,
               multicast ? " (multicast)" : "", cfg_.allow.empty() ? "" : (", allow " + cfg_.allow_text).c_str());
    return true;
  }

  void on_datagram(const uint8_t* data, size_t len) {
    const lws_udp* udp = lws_get_udp(wsi_);
    if (!udp) return;
    const sockaddr* src = &udp->sa;
    const int64_t now = now_ms();
    if (!cfg_.allow.allows(src)) return refuse(now, src, "not in allow list");
    const std::string sender = sockaddr_text(src);
    if (auto b = banned_until_ms_.find(sender); b != banned_until_ms_.end()) {
      if (now < b->second) return refuse(now, src, "sender sent bad data: ignored for 10 s");
      banned_until_ms_.erase(b);
    }
    if (stream_ && std::memcmp(&publisher_addr_, src, sizeof publisher_addr_) != 0) {
      return refuse(now, src, "another sender is publishing");
    }
    if (!stream_) {
      HubError err = HubError::none;
      const std::string peer = "udp:" + sockaddr_text(src);
      stream_ = relay_.hub.attach_publisher(cfg_.stream, this, peer, stream_allows_takeover(relay_, cfg_.stream), now, err);
      if (!stream_) return refuse(now, src, to_string(err));
      stream_->publisher_protocol = "udp";
      std::memcpy(&publisher_addr_, src, sizeof publisher_addr_);
      ++relay_.counters.ingest_connections;
      LOG_NOTICE("udp ingest %s: publishing stream %s", peer.c_str() + 4, cfg_.stream.c_str());
    }
    last_rx_ms_ = now;
    const PublishResult r = relay_.hub.publish(stream_, data, len, now);
    if (r != PublishResult::ok) {
      ++relay_.counters.ingest_refused;
      detach(to_string(r));
      // Do not re-attach this sender at once; others may publish meanwhile. The table is small:
      // beyond kMaxBanned senders the oldest entries no longer matter (expired ones go first).
      if (banned_until_ms_.size() >= kMaxBanned) {
        for (auto it = banned_until_ms_.begin(); it != banned_until_ms_.end();) {
          it = it->second <= now ? banned_until_ms_.erase(it) : std::next(it);
        }
        if (banned_until_ms_.size() >= kMaxBanned) banned_until_ms_.erase(banned_until_ms_.begin());
      }
      banned_until_ms_[sender] = now + 10000;
    }
  }

  void taken_over() override {
    stream_ = nullptr;
    LOG_NOTICE("udp ingest: stream %s taken over by another publisher", cfg_.stream.c_str());
  }

 private:
  struct Timer {
    lws_sorted_usec_list_t sul{};  // first: the callback casts back from it
    UdpIngest* self = nullptr;
  };

  static void on_timer(lws_sorted_usec_list_t* sul) {
    UdpIngest* u = reinterpret_cast<Timer*>(sul)->self;
    if (u->stream_ && now_ms() - u->last_rx_ms_ > u->relay_.config.publisher_timeout_s * 1000) {
      ++u->relay_.counters.ingest_timeouts;
      u->detach("publisher silent for publisher_timeout_s");
    }
    lws_sul_schedule(lws_get_context(u->wsi_), 0, &u->timer_.sul, &UdpIngest::on_timer, LWS_US_PER_SEC);
  }

  void refuse(int64_t now, const sockaddr* src, const char* why) {
    ++refused_datagrams_;
    ++relay_.counters.ingest_refused;
    if (now - last_refusal_log_ms_ >= 10000) {  // one line per 10 s, not one per datagram
      last_refusal_log_ms_ = now;
      LOG_WARN("udp ingest %s: datagrams for stream %s dropped: %s (%llu so far)", sockaddr_text(src).c_str(),
               cfg_.stream.c_str(), why, static_cast<unsigned long long>(refused_datagrams_));
    }
  }
  static constexpr size_t kMaxBanned = 64;

  void detach(const char* why) {
    if (!stream_) return;
    LOG_WARN("udp ingest: stream %s: publisher %s gone: %s", cfg_.stream.c_str(),
               sockaddr_text(&publisher_addr_).c_str(), why);
    relay_.hub.detach_publisher(stream_, this);
    stream_ = nullptr;
  }

  RelayState& relay_;
  const RawIngestConfig& cfg_;
  lws* wsi_ = nullptr;
  Timer timer_;
  Stream* stream_ = nullptr;
  sockaddr publisher_addr_{};
  int64_t last_rx_ms_ = 0;
  std::map<std::string, int64_t> banned_until_ms_;  // sender ADDR:PORT → end of its 10 s ban
  int64_t last_refusal_log_ms_ = -100000;
  uint64_t refused_datagrams_ = 0;
};

void UdpIngestDeleter::operator()(UdpIngest* u) const { std::default_delete<UdpIngest>()(u); }

UdpIngestPtr start_udp_ingest(lws_vhost* vhost, RelayState& relay, const RawIngestConfig& cfg) {
  UdpIngestPtr u(new UdpIngest(relay, cfg));
  if (!u->open(vhost)) return nullptr;
  return u;
}

namespace {
int udp_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, size_t len) {
  if (reason == LWS_CALLBACK_RAW_RX) {
    if (auto* u = static_cast<UdpIngest*>(lws_get_opaque_user_data(wsi))) {
      u->on_datagram(static_cast<const uint8_t*>(in), len);
    }
  }
  return 0;
}
}  // namespace

const lws_protocols& tcp_ingest_protocol() {
  static const lws_protocols p = {"mpegcast-tcp-ingest", tcp_callback, sizeof(TcpPss), 0, 0, nullptr, 0};
  return p;
}

const lws_protocols& udp_ingest_protocol() {
  static const lws_protocols p = {"mpegcast-udp-ingest", udp_callback, 0, 65536, 0, nullptr, 0};
  return p;
}

}  // namespace mpegcast::relay
