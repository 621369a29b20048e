#include "publish_auth.h"

#include <strings.h>

#include <algorithm>

#include "log.h"
#include "log_limiter.h"
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

int PublisherDeadline::timeout_s(const RelayState& relay, const Stream* stream, int64_t now_ms) const {
  const int64_t silence_s = relay.config.publisher_timeout_s;
  if (!stream || stream->publisher_started()) return static_cast<int>(silence_s);
  const int64_t left_ms = relay.config.publisher_start_timeout_s * 1000 - (now_ms - attached_ms);
  if (left_ms <= 0) return -1;  // LWS_TO_KILL_ASYNC: a trickle must not push the deadline on
  return static_cast<int>(std::clamp<int64_t>((left_ms + 999) / 1000, 1, silence_s));
}

bool PublisherDeadline::start_missed(const RelayState& relay, const Stream* stream, int64_t now_ms) const {
  return stream && !stream->publisher_started() &&
         now_ms - attached_ms + 500 >= relay.config.publisher_start_timeout_s * 1000;
}

void log_publisher_end(RelayState& relay, const char* what, const std::string& peer, const std::string& stream_name,
                       const Stream* stream, const PublisherDeadline& deadline, int64_t last_rx_ms, int64_t now_ms) {
  const bool silent = now_ms - last_rx_ms + 500 >= relay.config.publisher_timeout_s * 1000;
  if (!silent && deadline.start_missed(relay, stream, now_ms)) {
    ++relay.counters.ingest_timeouts;
    MC_LOG_LIMITED(relay.peer_log, address_of(peer), LOG_WARN,
                   "%s %s: stream %s: publisher sent no keyframe and no 64 KiB of MPEG-TS within %llds "
                   "(ingest.start_timeout_s); dropped",
                   what, peer.c_str(), stream_name.c_str(),
                   static_cast<long long>(relay.config.publisher_start_timeout_s));
  } else if (silent) {
    ++relay.counters.ingest_timeouts;
    LOG_WARN("%s %s: stream %s: publisher silent for %llds; dropped", what, peer.c_str(), stream_name.c_str(),
             static_cast<long long>(relay.config.publisher_timeout_s));
  } else {
    LOG_NOTICE("%s %s: stream %s: publisher disconnected", what, peer.c_str(), stream_name.c_str());
  }
}

}  // namespace mpegcast::relay
