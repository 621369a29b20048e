#include "http_admission.h"

#include <sys/socket.h>

#include <cctype>
#include <cstring>

namespace mpegcast::relay {
namespace {

/// The text of header `token` joined over its fragments ("" when absent or oversized).
std::string header_text(lws* wsi, lws_token_indexes token) {
  const int n = lws_hdr_total_length(wsi, token);
  if (n <= 0 || n > 256) return n > 256 ? std::string("?") : std::string();
  std::string s(static_cast<size_t>(n) + 1, '\0');
  const int got = lws_hdr_copy(wsi, &s[0], n + 1, token);
  s.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return s;
}

std::string refusal_text(Refusal r) {
  const RefusalAnswer& a = answer(r);
  const std::string body = std::string(a.phrase) + "\n";
  return "HTTP/1.1 " + std::to_string(a.http_status) + " " + a.http_reason +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         (r == Refusal::method_not_allowed ? "\r\nAllow: GET" : "") + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

std::optional<Refusal> check_viewer_request(lws* wsi) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) return Refusal::method_not_allowed;
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) return Refusal::body_not_allowed;
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
    // lws keeps a repeated header as fragments (joined with ',' by lws_hdr_copy).
    if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0) return Refusal::body_not_allowed;
    if (header_text(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) != "0") return Refusal::body_not_allowed;
  }
  return std::nullopt;
}

bool write_refusal(lws* wsi, Refusal r) {
  const RefusalAnswer& a = answer(r);
  const std::string body = std::string(a.phrase) + "\n";
  unsigned char buf[LWS_PRE + 1024];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  static const char kAllow[] = "GET";
  static const char kClose[] = "close";
  if (lws_add_http_common_headers(wsi, static_cast<unsigned>(a.http_status), "text/plain", body.size(), &p, end) ||
      (r == Refusal::method_not_allowed &&
       lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("allow:"),
                                   reinterpret_cast<const unsigned char*>(kAllow), sizeof kAllow - 1, &p, end)) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, reinterpret_cast<const unsigned char*>(kClose),
                                   sizeof kClose - 1, &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    return false;
  }
  std::memcpy(start, body.data(), body.size());
  return lws_write(wsi, start, body.size(), LWS_WRITE_HTTP_FINAL) == static_cast<int>(body.size());
}

Refusal classify_unparsed(const unsigned char* head, size_t len) {
  // "TOKEN SP target SP HTTP/…": a request line whose method we do not serve. A method is an
  // RFC 9110 token; in practice upper-case letters (CONNECT, PROPFIND, PRI for HTTP/2).
  size_t i = 0;
  while (i < len && i < 32 && std::isupper(head[i])) ++i;
  return i > 0 && i < len && head[i] == ' ' ? Refusal::method_not_allowed : Refusal::bad_request;
}

bool send_raw_refusal(int fd, Refusal r) {
  const std::string text = refusal_text(r);
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(text.size());
}

}  // namespace mpegcast::relay
