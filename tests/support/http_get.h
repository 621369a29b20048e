// One blocking HTTP/1.1 GET against 127.0.0.1, for API and static-file checks.
#pragma once
#include <cstdint>
#include <string>

#include "http_message.h"

namespace mpegcast::test {

struct HttpResponse {
  int status = 0;        // 0 when no response head arrived (connection refused, timeout)
  HttpHeaders headers;   // lower-cased names
  std::string body;      // de-chunked
  std::string error;     // empty on success; else what went wrong (the response may be partial)
};

/// GET http://127.0.0.1:`port``path` with "Connection: close"; reads until the body is complete
/// (Content-Length, chunked end, or close) or `timeout_ms` passes. Never throws.
HttpResponse http_get(uint16_t port, const std::string& path, int timeout_ms = 5000);

}  // namespace mpegcast::test
