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

/// Logs the end of a publisher's connection, once: "publisher silent for Ns; dropped" (and
/// counts an ingest timeout) when it sent nothing for publisher_timeout_s before `now_ms`, else
/// "publisher disconnected". `what` starts the line ("ingest", "tcp ingest").
void log_publisher_end(RelayState& relay, const char* what, const std::string& peer, const std::string& stream,
                       int64_t last_rx_ms, int64_t now_ms);

}  // namespace mpegcast::relay
