#include "connection_limit.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "log_limiter.h"
#include "relay_state.h"

namespace mpegcast::relay {
namespace {
constexpr rlim_t kReserveFds = 256;

/// The per-address bookkeeping of FILTER_NETWORK_CONNECTION: lws calls it with the listening
/// wsi and the accepted descriptor, then creates the connection's wsi (WSI_CREATE) before anything
/// else happens on the service thread, so the address is handed from one to the other.
void forget_pending(RelayState& relay) {
  if (relay.pending_address.empty()) return;
  // The accepted socket never became a wsi (lws failed to adopt it): release its count.
  auto it = relay.connections_by_address.find(relay.pending_address);
  if (it != relay.connections_by_address.end() && --it->second <= 0) relay.connections_by_address.erase(it);
  relay.pending_address.clear();
}

/// Admits or refuses the accepted socket `fd`. Returns 0 to admit, 1 to refuse.
int filter_connection(RelayState& relay, int fd) {
  const int64_t now = now_ms();
  if (relay.open_connections >= relay.max_connections) {
    ++relay.counters.connections_refused;
    if (now - relay.connection_refusal_logged_ms >= 10000) {
      relay.connection_refusal_logged_ms = now;
      LOG_WARN("connection limit: %lld connections open (limits.max_connections); refusing new ones "
               "(%llu refused so far)",
               static_cast<long long>(relay.open_connections),
               static_cast<unsigned long long>(relay.counters.connections_refused));
    }
    return 1;
  }
  forget_pending(relay);
  const int64_t per_address = relay.config.max_connections_per_address;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (per_address <= 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0 ||
      relay.config.exempt_networks.contains(reinterpret_cast<const sockaddr*>(&ss))) {
    return 0;
  }
  std::string address = sockaddr_host(reinterpret_cast<const sockaddr*>(&ss));
  int& open = relay.connections_by_address[address];
  if (open >= per_address) {
    ++relay.counters.connections_refused_per_address;
    MC_LOG_LIMITED(relay.peer_log, address, LOG_WARN,
                   "connection limit: %s already has %d connections open (limits.max_connections_per_address); "
                   "refusing more", address.c_str(), open);
    return 1;
  }
  ++open;
  relay.pending_address = std::move(address);
  return 0;
}

}  // namespace

bool account_connection(lws* wsi, lws_callback_reasons reason, void* in, int& rc) {
  rc = 0;
  switch (reason) {
    case LWS_CALLBACK_WSI_CREATE: {
      RelayState& relay = relay_state(wsi);
      ++relay.open_connections;
      if (!relay.pending_address.empty()) {
        relay.address_of_connection.emplace(wsi, std::move(relay.pending_address));
        relay.pending_address.clear();
      }
      return true;
    }
    case LWS_CALLBACK_WSI_DESTROY: {
      RelayState& relay = relay_state(wsi);
      if (relay.open_connections > 0) --relay.open_connections;
      auto a = relay.address_of_connection.find(wsi);
      if (a != relay.address_of_connection.end()) {
        auto it = relay.connections_by_address.find(a->second);
        if (it != relay.connections_by_address.end() && --it->second <= 0) relay.connections_by_address.erase(it);
        relay.address_of_connection.erase(a);
      }
      return true;
    }
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      rc = filter_connection(relay_state(wsi), static_cast<int>(reinterpret_cast<intptr_t>(in)));
      return true;
    default:
      return false;
  }
}

bool admit_accepted(RelayState& relay, int fd) { return filter_connection(relay, fd) == 0; }

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
