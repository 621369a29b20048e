// A viewer of a streamed HTTP body (HTTP-TS egress such as GET /live/cam1.ts).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http_message.h"
#include "tcp_socket.h"

namespace mpegcast::test {

/// GETs a URL on 127.0.0.1 whose body never ends (or ends whenever the server closes) and
/// collects body bytes for a given time. Handles a close-delimited body, Content-Length, and
/// chunked transfer-encoding.
class HttpStreamReader {
 public:
  HttpStreamReader(uint16_t port, std::string path) : port_(port), path_(std::move(path)) {}

  /// Connects and sends the request (not waiting for the response). Throws if the connection fails.
  void connect(int timeout_ms = 3000);

  /// Reads for `ms` milliseconds (connecting first if needed), appending body bytes to `body()`.
  /// Returns false if the stream failed or ended inside that time (see `error()` / `ended()`).
  bool read_for(int ms);

  /// Closes the connection (the server sees the viewer leave).
  void close() { sock_.close(); }
  /// SO_RCVBUF for the socket connect() opens (0: the system's default).
  void set_receive_buffer(int bytes) { rcvbuf_bytes_ = bytes; }

  int status() const { return status_; }              // 0 until the response head arrived
  const HttpHeaders& headers() const { return headers_; }
  const std::vector<uint8_t>& body() const { return body_; }
  bool ended() const { return ended_; }              // the server closed or finished the body
  const std::string& error() const { return error_; }
  /// When the first body byte arrived, if any.
  std::optional<Clock::time_point> first_byte_time() const { return first_byte_; }
  /// When the request was sent.
  Clock::time_point request_time() const { return request_time_; }

 private:
  uint16_t port_;
  std::string path_;
  int rcvbuf_bytes_ = 0;
  TcpSocket sock_;
  std::vector<uint8_t> head_buf_, body_;
  int status_ = 0;
  HttpHeaders headers_;
  bool head_done_ = false, chunked_ = false, ended_ = false;
  long long content_length_ = -1;
  ChunkedDecoder dechunk_;
  std::string error_;
  std::optional<Clock::time_point> first_byte_;
  Clock::time_point request_time_{};
};

}  // namespace mpegcast::test
