// An incremental HTTP/1.x request parser for the raw ingest listener, on nodejs http-parser
// (Debian's libhttp-parser): it decodes chunked bodies, which lws 4.1 does not. Kept apart from
// libwebsockets.h (both headers define `enum http_status`).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mpegcast::relay {

/// The request line and the headers the ingest uses.
struct HttpRequestHead {
  std::string method;         // "POST", "GET", …
  std::string url;            // as sent: path and query
  std::string authorization;  // Authorization header value, "" when absent
  std::string expect;         // Expect header value
  std::string upgrade;        // Upgrade header value ("websocket" for a WebSocket handshake)
  std::string via;            // X-Mpegcast-Via header value (relays the stream passed), "" when absent
  bool chunked = false;       // Transfer-Encoding: chunked
  int http_major = 1;         // version of the request line (0.9 when it had none)
  int http_minor = 1;
};

/// Receives a request's parts as they are parsed. Each returns false to stop parsing.
class HttpRequestHandler {
 public:
  virtual ~HttpRequestHandler() = default;
  virtual bool on_head(const HttpRequestHead& head) = 0;
  /// De-chunked body bytes, in arrival order; a body may be unbounded.
  virtual bool on_body(const uint8_t* data, size_t len) = 0;
  virtual bool on_complete() = 0;
};

/// Feeds bytes to http-parser and calls the handler.
class HttpRequestParser {
 public:
  enum class Status { ok, stopped, head_too_big, bad_request };

  /// `max_head_bytes`: request line + headers larger than this → head_too_big.
  HttpRequestParser(HttpRequestHandler& handler, size_t max_head_bytes);
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  /// Parses `len` bytes. `stopped`: a handler returned false; `bad_request`: see error().
  Status feed(const uint8_t* data, size_t len);
  /// http-parser's description of the last parse error.
  const char* error() const;
  /// Bytes of request line and headers seen so far.
  size_t head_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpegcast::relay
