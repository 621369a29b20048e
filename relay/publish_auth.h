// Publisher rules every ingest form applies: who may publish what (HTTP POST, WebSocket), and
// how the end of a publisher's connection is logged (HTTP, WebSocket, raw TCP).
#pragma once
#include <string>

#include "relay_config.h"

namespace mpegcast::relay {

/// The stream's entry in relay.conf `streams`, or nullptr when it has none.
const StreamPolicy* stream_policy(const RelayConfig& config, const std::string& stream);

/// Whether a publisher presenting `secret` (may be "") from a loopback (`loopback`) or other
/// address may publish `stream`. A stream with a configured secret always needs it (compared in
/// constant time); any other stream is open to loopback publishers only, when
/// `loopback_publish_without_secret` is on and the name is configured or `dynamic_streams` is on.
bool may_publish(const RelayConfig& config, const std::string& stream, const std::string& secret, bool loopback);

/// The publish secret of a request: `?secret=` in `query` (percent-decoded), overridden by an
/// `Authorization: Bearer …` header value `authorization`. "" when neither is present.
std::string publish_secret(const std::string& query, const std::string& authorization);

struct RelayState;
class Stream;

/// The deadline of a publishing connection (HTTP, WebSocket, raw TCP). Until its stream has
/// started (Stream::publisher_started: a keyframe or 64 KiB of mostly-TS arrived) it has
/// ingest.start_timeout_s from attaching in all, however it trickles its bytes; at any time, more
/// than ingest.publisher_timeout_s of silence ends it.
struct PublisherDeadline {
  int64_t attached_ms = 0;  // CLOCK_MONOTONIC ms when the hub accepted the publisher

  /// Seconds to pass to lws_set_timeout at `now_ms` (≥ 1), or -1 (LWS_TO_KILL_ASYNC: close now)
  /// when the start deadline has passed. `stream` may be null (then: the silence timeout).
  int timeout_s(const RelayState& relay, const Stream* stream, int64_t now_ms) const;
  /// True when the start deadline has passed without the stream starting.
  bool start_missed(const RelayState& relay, const Stream* stream, int64_t now_ms) const;
};

/// Logs the end of a publisher's connection, once, and counts timeouts: "publisher silent for Ns;
/// dropped" when it sent nothing for publisher_timeout_s before `now_ms`, "sent no keyframe and
/// no 64 KiB of TS within start_timeout_s" when `deadline` says the start was missed, else
/// "publisher disconnected". `what` starts the line ("ingest", "tcp ingest"); `stream` may be null.
void log_publisher_end(RelayState& relay, const char* what, const std::string& peer, const std::string& stream_name,
                       const Stream* stream, const PublisherDeadline& deadline, int64_t last_rx_ms, int64_t now_ms);

}  // namespace mpegcast::relay
