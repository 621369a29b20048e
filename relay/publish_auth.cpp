#include "publish_auth.h"

#include <strings.h>

#include "log.h"
#include "relay_state.h"
#include "secret.h"
#include "url.h"

namespace mpegcast::relay {

const StreamPolicy* stream_policy(const RelayConfig& config, const std::string& stream) {
  const auto it = config.streams.find(stream);
  return it == config.streams.end() ? nullptr : &it->second;
}

bool may_publish(const RelayConfig& config, const std::string& stream, const std::string& secret, bool loopback) {
  const StreamPolicy* policy = stream_policy(config, stream);
  if (policy && !policy->secret.empty()) return secret_equals(secret, policy->secret);
  return loopback && config.loopback_publish_without_secret && (policy || config.dynamic_streams);
}

std::string publish_secret(const std::string& query, const std::string& authorization) {
  std::string secret;
  if (auto s = query_param(query, "secret")) secret = *s;
  if (strncasecmp(authorization.c_str(), "Bearer ", 7) == 0) secret = authorization.substr(7);
  return secret;
}

void log_publisher_end(RelayState& relay, const char* what, const std::string& peer, const std::string& stream,
                       int64_t last_rx_ms, int64_t now_ms) {
  if (now_ms - last_rx_ms + 500 >= relay.config.publisher_timeout_s * 1000) {
    ++relay.counters.ingest_timeouts;
    LOG_WARN("%s %s: stream %s: publisher silent for %llds; dropped", what, peer.c_str(), stream.c_str(),
             static_cast<long long>(relay.config.publisher_timeout_s));
  } else {
    LOG_NOTICE("%s %s: stream %s: publisher disconnected", what, peer.c_str(), stream.c_str());
  }
}

}  // namespace mpegcast::relay
