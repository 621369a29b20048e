// A pull link (relay.conf `pull`): this relay fetches a stream from an upstream relay and is its
// local publisher ("origin pull"). On demand, it starts when a stream this relay does not have
// gets its first subscriber (a viewer or a push link; hub demand event) and stops idle_timeout_s
// after the last one left; static pulls run always. Upstreams are tried in order: one that fails,
// refuses or ends mid-stream hands over to the next (failover), and after a round of failures the
// link backs off with jitter; local viewers stay connected throughout and resume at the next
// keyframe. The request carries X-Mpegcast-Via (the path the demand passed plus this relay), so
// an upstream already on the path answers 508 and a pull loop never amplifies.
#pragma once
#include <libwebsockets.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "outbound_connection.h"
#include "pull_wire.h"
#include "relay_config.h"
#include "stream_hub.h"

namespace mpegcast::relay {

struct RelayState;

/// One pull link's counters, for the API.
struct PullLinkStats {
  std::string stream;
  std::string upstream;        // the upstream in use or tried last, secrets masked
  std::string state;           // "connecting", "receiving", "backoff", "stopping"
  bool on_demand = true;
  int64_t since_s = 0;         // wall clock: when the link started
  uint64_t bytes_in = 0;       // TS bytes received
  uint64_t connects = 0;       // connections that came up (all upstreams)
  uint64_t failures = 0;       // connect errors, refusals and unplanned closes (all upstreams)
  uint64_t failovers = 0;      // hand-overs to the next upstream
  std::string last_error;      // "" when none yet
  std::string peer_node;       // the upstream's node id (from its X-Mpegcast-Via), "" when unknown
};

class PullLink final : public PublisherOwner, public PullSink {
 public:
  /// Pulls `stream` by `rule` on the links' client vhost. `demand_via`: the relays the demand's
  /// request passed (empty for a local viewer or a static pull).
  PullLink(RelayState& relay, lws_vhost* vhost, const PullConfig& rule, std::string stream,
           std::vector<std::string> demand_via);
  ~PullLink() override;
  PullLink(const PullLink&) = delete;
  PullLink& operator=(const PullLink&) = delete;

  /// Starts with the first upstream.
  void start(int64_t now_ms);
  /// Housekeeping (the links' timer, every 200 ms): start deadline, idle stop, stalls, retries.
  void tick(int64_t now_ms);
  /// Local demand changed (hub demand event for this stream).
  void demand(bool wanted, int64_t now_ms);
  /// True once the link has stopped for good (the owner then destroys it).
  bool finished() const { return finished_; }
  const std::string& stream() const { return stream_; }
  PullLinkStats stats() const;

  // PublisherOwner
  void taken_over() override;
  // PullSink
  bool on_accepted(const std::string& via) override;
  bool on_ts(const uint8_t* data, size_t len) override;

 private:
  /// One upstream: its connection and wire.
  class Upstream final : public ConnectionOwner {
   public:
    Upstream(PullLink& link, size_t index, lws_vhost* vhost, const Url& base, const std::string& url_text);
    bool on_up() override;
    int on_writable() override;
    int on_rx(const uint8_t* data, size_t len) override;
    void on_down(bool failed) override;
    std::string handshake_headers() override;
    std::string close_reason() override { return wire->close_reason(); }

    PullLink& link;
    const size_t index;
    const std::string url;  // redacted, for logs and the API
    std::unique_ptr<PullWire> wire;
    std::unique_ptr<OutboundConnection> conn;
    bool accepted = false;
  };

  void connect(size_t index);
  void on_upstream_down(size_t index, bool failed);
  void stop(const char* why);
  void detach();
  std::string via_value() const;

  RelayState& relay_;
  const PullConfig& rule_;
  const std::string stream_;
  const std::vector<std::string> demand_via_;
  const std::string name_;  // "pull cam1"
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  size_t current_ = 0;        // the upstream in use or being tried
  size_t tried_in_round_ = 0;  // upstreams that failed since the last success or round start
  Stream* stream_ptr_ = nullptr;  // while attached as the stream's publisher
  int64_t started_ms_ = 0, started_wall_s_ = 0, last_rx_ms_ = 0, stop_at_ms_ = 0;
  bool delivered_ = false;     // the stream started (a keyframe or 64 KiB of TS) through this link
  bool finished_ = false;
  uint64_t bytes_in_ = 0, failovers_ = 0;
};

}  // namespace mpegcast::relay
