// The monitoring API's documents: JSON for /api/v1/* and Prometheus text for /metrics.
#pragma once
#include <string>

#include "relay_state.h"

namespace mpegcast::relay {

/// `{"streams":[{name, publisher, connected_since, bytes_in, bitrate_in_bps, viewers, …}]}`.
std::string streams_json(const RelayState& relay);
/// One stream's object, or "" when there is no such stream.
std::string stream_json(const RelayState& relay, const std::string& name);
/// `{"node_id", "version", "uptime_s", "streams", "viewers", counters…}`.
std::string node_json(const RelayState& relay);
/// Prometheus text exposition format 0.0.4 of the same numbers.
std::string metrics_text(const RelayState& relay);

}  // namespace mpegcast::relay
