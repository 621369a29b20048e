#include "http_stream_reader.h"

#include <exception>

namespace mpegcast::test {

void HttpStreamReader::connect(int timeout_ms) {
  sock_ = TcpSocket::connect_loopback(port_, timeout_ms, rcvbuf_bytes_);
  sock_.write_all("GET " + path_ + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                  "\r\nUser-Agent: mpegcast-tests\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  request_time_ = Clock::now();
}

bool HttpStreamReader::read_for(int ms) {
  if (ended_ || !error_.empty()) return false;
  try {
    if (!sock_.valid()) connect();
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    uint8_t tmp[65536];
    while (true) {
      long n = sock_.read_some(tmp, sizeof(tmp), deadline);
      if (n < 0) return true;  // time is up, stream still open
      if (n == 0) {
        ended_ = true;
        if (!head_done_) error_ = "connection closed before a complete response head";
        return false;
      }
      const uint8_t* p = tmp;
      size_t len = static_cast<size_t>(n);
      if (!head_done_) {
        head_buf_.insert(head_buf_.end(), tmp, tmp + n);
        size_t end = find_head_end(head_buf_);
        if (!end) continue;
        head_done_ = true;
        status_ = parse_response_head(std::string(head_buf_.begin(), head_buf_.begin() + end), headers_);
        if (status_ < 0) {
          status_ = 0;
          error_ = "malformed status line";
          return false;
        }
        auto te = headers_.find("transfer-encoding");
        chunked_ = te != headers_.end() && te->second.find("chunked") != std::string::npos;
        auto cl = headers_.find("content-length");
        if (!chunked_ && cl != headers_.end()) content_length_ = std::stoll(cl->second);
        p = head_buf_.data() + end;
        len = head_buf_.size() - end;
      }
      size_t before = body_.size();
      if (chunked_) {
        if (!dechunk_.feed(p, len, body_)) {
          error_ = "chunked framing: " + dechunk_.error();
          return false;
        }
        if (dechunk_.done()) ended_ = true;
      } else {
        body_.insert(body_.end(), p, p + len);
        if (content_length_ >= 0 && static_cast<long long>(body_.size()) >= content_length_) {
          body_.resize(static_cast<size_t>(content_length_));
          ended_ = true;
        }
      }
      if (!first_byte_ && body_.size() > before) first_byte_ = Clock::now();
      if (ended_) return false;
    }
  } catch (const std::exception& e) {
    error_ = e.what();
    return false;
  }
}

}  // namespace mpegcast::test
