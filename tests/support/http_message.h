// HTTP/1.1 response parsing for test clients: the status line and headers, and an incremental
// decoder for chunked transfer-encoding (RFC 9112 §6, §7.1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mpegcast::test {

/// Header names are lower-cased; repeated headers are joined with ", ".
using HttpHeaders = std::map<std::string, std::string>;

/// Finds the end of the response head ("\r\n\r\n") in `buf`; returns the offset just past it, or 0.
size_t find_head_end(const std::vector<uint8_t>& buf);

/// Parses "HTTP/1.1 200 OK\r\nName: value\r\n…" (without the final blank line required).
/// Returns the status code, or -1 when the status line is malformed.
int parse_response_head(const std::string& head, HttpHeaders& headers);

/// Decodes a chunked body fed in arbitrary pieces. Chunk extensions and trailers are skipped.
class ChunkedDecoder {
 public:
  /// Appends the de-chunked payload of `len` input bytes to `out`. Returns false on a framing error
  /// (then `error()` says what); once `done()`, further input is ignored.
  bool feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out);
  bool done() const { return state_ == State::done; }
  const std::string& error() const { return error_; }

 private:
  enum class State { size_line, data, data_crlf, trailer, done, failed };
  State state_ = State::size_line;
  std::string line_;
  uint64_t left_ = 0;
  std::string error_;
};

}  // namespace mpegcast::test
