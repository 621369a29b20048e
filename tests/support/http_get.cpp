#include "http_get.h"

#include <exception>
#include <vector>

#include "tcp_socket.h"

namespace mpegcast::test {

HttpResponse http_get(uint16_t port, const std::string& path, int timeout_ms) {
  HttpResponse r;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  try {
    TcpSocket s = TcpSocket::connect_loopback(port, timeout_ms);
    s.write_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                "\r\nUser-Agent: mpegcast-tests\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    std::vector<uint8_t> buf, body;
    uint8_t tmp[16384];
    size_t head_end = 0;
    bool chunked = false;
    long long content_length = -1;
    ChunkedDecoder dechunk;
    while (true) {
      long n = s.read_some(tmp, sizeof(tmp), deadline);
      if (n < 0) {
        r.error = "timeout after " + std::to_string(timeout_ms) + " ms";
        break;
      }
      if (n == 0) {
        if (!head_end) r.error = "connection closed before a complete response head";
        else if (chunked && !dechunk.done()) r.error = "connection closed inside a chunked body";
        else if (content_length >= 0 && static_cast<long long>(body.size()) < content_length)
          r.error = "connection closed after " + std::to_string(body.size()) + " of " +
                    std::to_string(content_length) + " body bytes";
        break;
      }
      const uint8_t* p = tmp;
      size_t len = static_cast<size_t>(n);
      if (!head_end) {
        buf.insert(buf.end(), tmp, tmp + n);
        head_end = find_head_end(buf);
        if (!head_end) continue;
        r.status = parse_response_head(std::string(buf.begin(), buf.begin() + head_end), r.headers);
        if (r.status < 0) {
          r.error = "malformed status line";
          r.status = 0;
          break;
        }
        auto te = r.headers.find("transfer-encoding");
        chunked = te != r.headers.end() && te->second.find("chunked") != std::string::npos;
        auto cl = r.headers.find("content-length");
        if (!chunked && cl != r.headers.end()) content_length = std::stoll(cl->second);
        p = buf.data() + head_end;
        len = buf.size() - head_end;
      }
      if (chunked) {
        if (!dechunk.feed(p, len, body)) {
          r.error = "chunked framing: " + dechunk.error();
          break;
        }
        if (dechunk.done()) break;
      } else {
        body.insert(body.end(), p, p + len);
        if (content_length >= 0 && static_cast<long long>(body.size()) >= content_length) {
          body.resize(static_cast<size_t>(content_length));
          break;
        }
      }
      if (r.status == 204 || r.status == 304) break;
    }
    r.body.assign(body.begin(), body.end());
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace mpegcast::test
