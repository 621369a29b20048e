// Who may publish what: the one rule every ingest form (HTTP POST, WebSocket) applies.
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

}  // namespace mpegcast::relay
