#include "api_access.h"

#include <sys/socket.h>

#include <strings.h>

#include <cstring>

#include "log.h"
#include "log_limiter.h"
#include "relay_state.h"
#include "secret.h"

namespace mpegcast::relay {
namespace {

/// The token the request carries: `Authorization: Bearer …`, else `?token=…` ("" when neither).
std::string request_token(lws* wsi) {
  char buf[512];
  const int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) return std::string(buf + 7, static_cast<size_t>(n - 7));
  if (const char* v = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf)) return v;
  return {};
}

bool write_answer(lws* wsi, unsigned status, const std::string& body, bool bearer_challenge) {
  unsigned char buf[LWS_PRE + 1024];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  static const char kChallenge[] = "Bearer realm=\"mpegcast\"";
  static const char kClose[] = "close";
  if (lws_add_http_common_headers(wsi, status, "text/plain", body.size(), &p, end) ||
      (bearer_challenge &&
       lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE, reinterpret_cast<const unsigned char*>(kChallenge),
                                    sizeof kChallenge - 1, &p, end)) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, reinterpret_cast<const unsigned char*>(kClose),
                                   sizeof kClose - 1, &p, end) ||
      // Readable cross-origin like the API itself, so the dashboard's tree view can say "401".
      lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("access-control-allow-origin:"),
                                  reinterpret_cast<const unsigned char*>("*"), 1, &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end) || body.size() > sizeof buf - LWS_PRE) {
    return false;
  }
  std::memcpy(start, body.data(), body.size());
  return lws_write(wsi, start, body.size(), LWS_WRITE_HTTP_FINAL) == static_cast<int>(body.size());
}

}  // namespace

bool api_access_covers(const std::string& path) {
  return path.rfind("/api/", 0) == 0 || path == "/api" || path == "/metrics" || path == "/" || path == "/index.html";
}

bool api_access_filter(lws* wsi, const std::string& path) {
  RelayState& relay = relay_state(wsi);
  const ApiAccessConfig& rule = relay.config.api_access;
  if (!rule.restricted() || !api_access_covers(path)) return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int fd = lws_get_socket_fd(wsi);
  const bool known = getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
  unsigned status = 0;
  const char* why = nullptr;
  if (!rule.allow.empty() && !(known && rule.allow.allows(reinterpret_cast<const sockaddr*>(&ss)))) {
    status = 403;
    why = "address not in api.allow";
  } else if (!rule.token.empty()) {
    const std::string given = request_token(wsi);
    if (!secret_equals(given, rule.token)) {
      status = 401;
      why = given.empty() ? "no token" : "wrong token";
    }
  }
  if (!status) return false;
  ++relay.counters.api_refused;
  const std::string peer = peer_address(fd);
  MC_LOG_LIMITED(relay.peer_log, address_of(peer), LOG_INFO, "api %s: GET %s refused: %u (%s)", peer.c_str(),
                 path.substr(0, 80).c_str(), status, why);
  write_answer(wsi, status,
               status == 403 ? "forbidden: this address may not read the API\n"
                             : "unauthorized: send Authorization: Bearer TOKEN or ?token=TOKEN\n",
               status == 401);
  return true;
}

}  // namespace mpegcast::relay
