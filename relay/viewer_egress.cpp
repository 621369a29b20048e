#include "viewer_egress.h"

#include <libwebsockets.h>
#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api_access.h"
#include "api_json.h"
#include "cascade_via.h"
#include "connection_limit.h"
#include "http_admission.h"
#include "log.h"
#include "log_limiter.h"
#include "pss_slot.h"
#include "relay_state.h"
#include "snapshot_request.h"
#include "stream_name.h"
#include "viewer_session.h"

namespace mpegcast::relay {
namespace {

/// Stream name of a viewer path: "/live/<name>" (WS), "/live/<name>.ts" (HTTP-TS); "" if neither.
std::string live_stream_name(const std::string& path, bool want_ts) {
  if (path.rfind("/live/", 0) != 0) return {};
  std::string name = path.substr(6);
  const bool is_ts = name.size() > 3 && name.compare(name.size() - 3, 3, ".ts") == 0;
  if (is_ts != want_ts) return {};
  if (is_ts) name.resize(name.size() - 3);
  return valid_stream_name(name) ? name : std::string();
}

/// Stream name of a snapshot path "/live/<name>.jpg"; "" otherwise.
std::string snapshot_stream_name(const std::string& path) {
  if (path.rfind("/live/", 0) != 0 || path.size() < 10 || path.compare(path.size() - 4, 4, ".jpg") != 0) return {};
  std::string name = path.substr(6, path.size() - 10);
  return valid_stream_name(name) ? name : std::string();
}

std::string request_path(lws* wsi) {
  char buf[512];
  int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string peer_of(lws* wsi) { return peer_address(lws_get_socket_fd(wsi)); }

/// The X-Mpegcast-Via list of a request (a downstream relay's pull), empty when absent.
std::vector<std::string> request_via(lws* wsi) {
  char buf[2048];
  const int n = lws_hdr_custom_copy(wsi, buf, sizeof buf, "x-mpegcast-via:", 15);
  return n > 0 ? parse_via(std::string_view(buf, static_cast<size_t>(n))) : std::vector<std::string>();
}

/// Refuses a pull whose path already holds this relay (a loop) or is too long (508).
std::optional<Refusal> check_request_via(lws* wsi, const std::vector<std::string>& via) {
  const RelayState& relay = relay_state(wsi);
  if (via.empty() || check_via(via, relay.node_id, relay.config.cascade_max_hops).empty()) return std::nullopt;
  return Refusal::loop_detected;
}

/// "METHOD /path" of the request lws parsed, for log lines (at most 80 bytes of the path).
std::string request_line(lws* wsi) {
  static const char* const kMethods[] = {"GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE", "CONNECT", "HEAD"};
  char* uri = nullptr;
  int uri_len = 0;
  const int m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
  const char* method = m >= 0 && m < static_cast<int>(sizeof kMethods / sizeof *kMethods) ? kMethods[m] : "request";
  return std::string(method) + " " + (uri && uri_len > 0 ? std::string(uri, static_cast<size_t>(std::min(uri_len, 80))) : "?");
}

/// The first line of what a peer sent, printable (other bytes as \xHH), at most 80 bytes of it.
std::string first_line(const void* in, size_t len) {
  const auto* b = static_cast<const unsigned char*>(in);
  std::string out;
  for (size_t i = 0; i < len && i < 80 && b[i] != '\r' && b[i] != '\n'; ++i) {
    if (b[i] >= 0x20 && b[i] < 0x7f) {
      out += static_cast<char>(b[i]);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[b[i] >> 4], kHex[b[i] & 15]};
    }
  }
  return out.empty() ? std::string("(empty)") : out;
}

/// One log line (limited per address) for a refused request.
void log_refusal(lws* wsi, Refusal r, const std::string& what) {
  RelayState& relay = relay_state(wsi);
  ++relay.counters.viewer_refused;
  const std::string peer = peer_of(wsi);
  const RefusalAnswer& a = answer(r);
  MC_LOG_LIMITED(relay.peer_log, address_of(peer), LOG_INFO, "viewer %s: %s refused: %d %s", peer.c_str(),
                 what.substr(0, 80).c_str(), a.http_status, a.phrase);
}

/// A viewer connection's storage: a streaming viewer, or a snapshot request waiting for its JPEG.
struct ViewerPss : PssSlot<ViewerSession> {
  PssSlot<SnapshotRequest> snapshot;
};

/// Closes `wsi` with the close frame of refusal `r`. Returns -1 (the callback's return value).
int close_websocket(lws* wsi, Refusal r) {
  const RefusalAnswer& a = answer(r);
  lws_close_reason(wsi, static_cast<lws_close_status>(a.ws_close_code),
                   reinterpret_cast<unsigned char*>(const_cast<char*>(a.phrase)), std::strlen(a.phrase));
  return -1;
}

/// WebSocket viewer callbacks; returns false when `reason` is not one of them.
bool ws_callback(lws* wsi, lws_callback_reasons reason, ViewerPss* pss, size_t len, int& rc) {
  rc = 0;
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      const std::string path = request_path(wsi);
      std::optional<Refusal> refusal = check_viewer_request(wsi);
      if (!refusal && path != "/" && live_stream_name(path, false).empty()) refusal = Refusal::not_found;
      if (!refusal) refusal = check_request_via(wsi, request_via(wsi));
      if (!refusal && lws_get_vhost(wsi) == relay_state(wsi).api_vhost) refusal = Refusal::not_found;
      if (!refusal) return true;
      log_refusal(wsi, *refusal, "WebSocket upgrade to " + path);
      write_refusal(wsi, *refusal);
      rc = 1;
      return true;
    }
    case LWS_CALLBACK_ESTABLISHED: {
      RelayState& relay = relay_state(wsi);
      const std::string path = request_path(wsi);
      const std::string name = path == "/" ? relay.config.default_stream : live_stream_name(path, false);
      const std::vector<std::string> via = request_via(wsi);
      if (std::optional<Refusal> r = pss->make(wsi, relay, true)->join(name, via)) rc = close_websocket(wsi, *r);
      return true;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
      rc = pss->get() ? pss->get()->on_writable() : 0;
      return true;
    case LWS_CALLBACK_RECEIVE:
      rc = pss->get() ? pss->get()->on_receive(len) : -1;
      return true;
    default:
      return false;
  }
}

/// Writes a complete small response (headers + body) and ends the transaction. `cors`: readable
/// by pages of any origin (the dashboard's tree view reads other relays' APIs; no credentials).
int respond(lws* wsi, unsigned status, const char* content_type, const std::string& body, bool cors = false) {
  std::string buf(LWS_PRE + 1024 + body.size(), '\0');
  auto* start = reinterpret_cast<unsigned char*>(&buf[LWS_PRE]);
  unsigned char* p = start;
  unsigned char* end = start + 1024;
  if (lws_add_http_common_headers(wsi, status, content_type, body.size(), &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, reinterpret_cast<const unsigned char*>("no-store"), 8, &p, end) ||
      (cors && lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("access-control-allow-origin:"),
                                           reinterpret_cast<const unsigned char*>("*"), 1, &p, end)) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    return 1;
  }
  if (!body.empty()) {
    std::memcpy(start, body.data(), body.size());
    if (lws_write(wsi, start, body.size(), LWS_WRITE_HTTP_FINAL) != static_cast<int>(body.size())) return 1;
  }
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/// GET /live/<name>.ts: an HTTP-TS viewer (its head goes out with the first chunk).
int start_http_ts(lws* wsi, ViewerPss* pss, const std::string& name) {
  const std::vector<std::string> via = request_via(wsi);
  std::optional<Refusal> r = check_request_via(wsi, via);
  if (r) log_refusal(wsi, *r, "pull of " + name + " via " + format_via(via));
  if (!r) r = pss->make(wsi, relay_state(wsi), false)->join(name, via);
  if (r) {
    pss->destroy();
    const RefusalAnswer& a = answer(*r);
    return respond(wsi, static_cast<unsigned>(a.http_status), "text/plain", std::string(a.phrase) + "\n");
  }
  return 0;
}

/// Writes a snapshot answer: the JPEG, or the reason as text.
int respond_snapshot(lws* wsi, const SnapshotAnswer& a) {
  if (a.status == 200 && a.jpeg) return respond(wsi, 200, "image/jpeg", *a.jpeg);
  return respond(wsi, static_cast<unsigned>(a.status), "text/plain", a.message);
}

/// GET /live/<name>.jpg[?w=WIDTH]: the newest keyframe as JPEG (snapshot_service.h), at once from
/// the cache or later from the worker (the request then waits in the per-session storage).
int start_snapshot(lws* wsi, ViewerPss* pss, const std::string& name) {
  RelayState& relay = relay_state(wsi);
  if (!relay.snapshots || !pss) return respond(wsi, 503, "text/plain", "snapshots are not available\n");
  char buf[32];
  const char* w = lws_get_urlarg_by_name(wsi, "w=", buf, sizeof buf);
  const int width = w ? std::clamp(std::atoi(w), 16, 1920) : 0;
  SnapshotRequest* req = pss->snapshot.make(wsi, *relay.snapshots);
  std::optional<SnapshotAnswer> a = relay.snapshots->request(relay.hub, name, width, req);
  if (!a) a = req->take_answer();  // answered while being queued (e.g. a refusal)
  if (!a) return 0;                // waits: the worker's result comes through HTTP_WRITEABLE
  pss->snapshot.destroy();
  return respond_snapshot(wsi, *a);
}

/// The HTTP routes that are not static files.
int route(lws* wsi, ViewerPss* pss) {
  RelayState& relay = relay_state(wsi);
  ++relay.counters.http_requests;
  const std::string path = request_path(wsi);
  const bool api_only = lws_get_vhost(wsi) == relay.api_vhost;
  if (api_only && path.rfind("/api/", 0) != 0 && path != "/metrics" && path != "/healthz") {
    return respond(wsi, 404, "text/plain", "this listener serves /api/v1/…, /metrics and /healthz only\n");
  }
  if (const std::string name = snapshot_stream_name(path); !name.empty()) return start_snapshot(wsi, pss, name);
  if (path.rfind("/live/", 0) == 0) {
    const std::string name = live_stream_name(path, true);
    if (name.empty()) return respond(wsi, 404, "text/plain", "use /live/<stream>.ts, /live/<stream>.jpg or ws://…/live/<stream>\n");
    return start_http_ts(wsi, pss, name);
  }
  if (path == "/api/v1/streams" || path == "/api/v1/streams/") {
    return respond(wsi, 200, "application/json", streams_json(relay), true);
  }
  if (path.rfind("/api/v1/streams/", 0) == 0) {
    const std::string body = stream_json(relay, path.substr(16));
    if (body.empty()) return respond(wsi, 404, "application/json", "{\"error\":\"no such stream\"}", true);
    return respond(wsi, 200, "application/json", body, true);
  }
  if (path == "/api/v1/node") return respond(wsi, 200, "application/json", node_json(relay), true);
  if (path == "/metrics") return respond(wsi, 200, "text/plain; version=0.0.4", metrics_text(relay), true);
  if (path == "/healthz") return respond(wsi, 200, "text/plain", "ok\n");
  if (path.rfind("/api/", 0) == 0) return respond(wsi, 404, "text/plain", "not found\n", true);
  return respond(wsi, 404, "text/plain", "not found\n");
}

/// Bytes lws could not take as an HTTP request (an unknown method, junk, CONNECT): lws hands the
/// connection over as a raw socket (the vhost's fallback). Answer 405 or 400 and close.
int answer_unparsed(lws* wsi, const void* in, size_t len) {
  const Refusal r = classify_unparsed(static_cast<const unsigned char*>(in), len);
  log_refusal(wsi, r, first_line(in, len));
  send_raw_refusal(lws_get_socket_fd(wsi), r);
  return -1;
}

/// One protocol serves the whole viewer listener: HTTP routes, static files (the "/" mount),
/// and WebSocket viewers (lws sends upgrades without a subprotocol to protocols[0]).
int viewer_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<ViewerPss*>(user);
  if (pss && session_ends(wsi, reason, viewer_callback)) {  // before lws frees the storage
    pss->destroy();
    pss->snapshot.destroy();
  }
  if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
    // Sent to every protocol of every vhost: take the snapshot worker's results once, on the
    // viewer vhost's first protocol.
    RelayState& relay = relay_state(wsi);
    const lws_protocols* p = lws_get_protocol(wsi);
    if (relay.snapshots && p && p->callback == viewer_callback && p->name && std::strcmp(p->name, "mpegcast-live") == 0 &&
        lws_get_vhost(wsi) != relay.api_vhost) {
      relay.snapshots->deliver(relay.hub);
    }
    return 0;
  }
  if (int rc = 0; account_connection(wsi, reason, in, rc)) return rc;
  int rc = 0;
  if (pss && ws_callback(wsi, reason, pss, len, rc)) return rc;
  switch (reason) {
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION: {
      // A new request head on a connection that is streaming HTTP-TS (a pipelined request, or
      // junk that parsed as one): its response never ends, so nothing can follow it. Close;
      // serving it would splice a second response into the TS body.
      if (pss && pss->get()) {
        log_refusal(wsi, Refusal::bad_request, "a second request on a streaming HTTP-TS connection");
        return 1;
      }
      if (std::optional<Refusal> r = check_viewer_request(wsi)) {
        log_refusal(wsi, *r, request_line(wsi));
        write_refusal(wsi, *r);
        return 1;
      }
      return api_access_filter(wsi, request_path(wsi)) ? 1 : 0;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      // Only WebSocket: h2c would take the connection past our timeouts (and HTTP-TS over h2
      // sends a head and then nothing).
      if (in && strcasecmp(static_cast<const char*>(in), "websocket") == 0) return 0;
      log_refusal(wsi, Refusal::upgrade_not_supported,
                  std::string("Upgrade: ") + (in ? static_cast<const char*>(in) : "?"));
      write_refusal(wsi, Refusal::upgrade_not_supported);
      return -1;
    case LWS_CALLBACK_HTTP:
      return route(wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
      if (SnapshotRequest* req = pss ? pss->snapshot.get() : nullptr) {
        std::optional<SnapshotAnswer> a = req->take_answer();
        if (!a) return 0;
        pss->snapshot.destroy();
        return respond_snapshot(wsi, *a);
      }
      return pss && pss->get() ? pss->get()->on_writable() : 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      // A static file from the "/" mount was sent: end the transaction so a kept-alive
      // connection parses its next request afresh (else lws answers it with stale headers).
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_RAW_ADOPT:
      lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 2);  // the fallback's RX follows at once
      return 0;
    case LWS_CALLBACK_RAW_RX:
      return answer_unparsed(wsi, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_RAW_CLOSE:
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace

lws_protocols viewer_protocol(const char* name) {
  // tx_packet_size: lws caps each send at this (else at rx_buffer_size, 4 KiB here) and copies
  // the rest of a longer write into a buffer of its own, sent on the next POLLOUT: a second
  // send and a copy per viewer for every chunk over 4 KiB. Chunks are at most 1 MiB.
  return {name, viewer_callback, sizeof(ViewerPss), 4096, 0, nullptr, (1 << 20) + kChunkHeadroom};
}

}  // namespace mpegcast::relay
