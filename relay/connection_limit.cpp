#include "connection_limit.h"

#include <sys/resource.h>

#include "clock.h"
#include "log.h"
#include "relay_state.h"

namespace mpegcast::relay {
namespace {
constexpr rlim_t kReserveFds = 256;
}

bool account_connection(lws* wsi, lws_callback_reasons reason, int& rc) {
  rc = 0;
  switch (reason) {
    case LWS_CALLBACK_WSI_CREATE:
      ++relay_state(wsi).open_connections;
      return true;
    case LWS_CALLBACK_WSI_DESTROY: {
      RelayState& relay = relay_state(wsi);
      if (relay.open_connections > 0) --relay.open_connections;
      return true;
    }
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
      RelayState& relay = relay_state(wsi);
      if (relay.open_connections < relay.max_connections) return true;
      ++relay.counters.connections_refused;
      const int64_t now = now_ms();
      if (now - relay.connection_refusal_logged_ms >= 10000) {
        relay.connection_refusal_logged_ms = now;
        LOG_WARN("connection limit: %lld connections open (limits.max_connections); refusing new ones "
                 "(%llu refused so far)",
                 static_cast<long long>(relay.open_connections),
                 static_cast<unsigned long long>(relay.counters.connections_refused));
      }
      rc = 1;  // lws closes the accepted socket
      return true;
    }
    default:
      return false;
  }
}

int64_t fit_open_file_limit(int64_t max_connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return max_connections;
  const rlim_t want = static_cast<rlim_t>(max_connections) + kReserveFds;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || want <= rl.rlim_max ? want : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  const int64_t allowed = rl.rlim_cur > kReserveFds ? static_cast<int64_t>(rl.rlim_cur - kReserveFds) : 1;
  if (allowed < max_connections) {
    LOG_WARN("limits.max_connections %lld needs %llu open files but only %llu are allowed: serving at most %lld "
             "connections (raise systemd LimitNOFILE= or ulimit -Hn)",
             static_cast<long long>(max_connections), static_cast<unsigned long long>(want),
             static_cast<unsigned long long>(rl.rlim_cur), static_cast<long long>(allowed));
    return allowed;
  }
  return max_connections;
}

}  // namespace mpegcast::relay
