// An incremental HTTP/1.x response parser for pull links, on nodejs http-parser (Debian's
// libhttp-parser): status, the headers links use, and the body de-chunked (an upstream relay's
// HTTP-TS body is close-delimited; other servers may send it chunked). Kept apart from
// libwebsockets.h (both headers define `enum http_status`).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mpegcast::relay {

/// The status line and the headers a link uses.
struct HttpResponseHead {
  int status = 0;             // e.g. 200
  std::string reason;         // e.g. "OK"
  std::string content_type;   // Content-Type value
  std::string via;            // X-Mpegcast-Via value (the relays the stream's data passed), "" when absent
};

/// Receives a response's parts as they are parsed. Each returns false to stop parsing.
class HttpResponseHandler {
 public:
  virtual ~HttpResponseHandler() = default;
  /// The head is complete (1xx interim responses are skipped).
  virtual bool on_head(const HttpResponseHead& head) = 0;
  /// De-chunked body bytes in arrival order (a live body does not end).
  virtual bool on_body(const uint8_t* data, size_t len) = 0;
  /// The body ended (Content-Length reached, last chunk, or the connection closed: see finish()).
  virtual void on_complete() = 0;
};

class HttpResponseParser {
 public:
  enum class Status { ok, stopped, bad_response };

  /// `max_head_bytes`: status line + headers larger than this → bad_response.
  HttpResponseParser(HttpResponseHandler& handler, size_t max_head_bytes = 16384);
  ~HttpResponseParser();
  HttpResponseParser(const HttpResponseParser&) = delete;
  HttpResponseParser& operator=(const HttpResponseParser&) = delete;

  /// Parses `len` bytes. `stopped`: a handler returned false (or the message completed).
  Status feed(const uint8_t* data, size_t len);
  /// The connection closed: completes a close-delimited body.
  void finish();
  /// http-parser's description of the last error (or "response head too large").
  const char* error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpegcast::relay
