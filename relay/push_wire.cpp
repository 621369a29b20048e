#include "push_wire.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "version.h"

namespace mpegcast::relay {
namespace {

static_assert(LWS_PRE <= kChunkHeadroom, "chunks need LWS_PRE bytes of headroom for lws_write");

constexpr size_t kMaxResponseBytes = 4096;  // what we read of a downstream's HTTP response

/// One long chunked POST; the response is read only to learn why the downstream ends it.
class HttpPushWire final : public PushWire {
 public:
  void start(const std::string& target, const std::string& host, const std::string& via) override {
    const std::string head = "POST " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: mpegcast-relay/" +
                             kVersion + "\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n" +
                             "X-Mpegcast-Via: " + via + "\r\n\r\n";
    head_.assign(LWS_PRE, 0);
    head_.insert(head_.end(), head.begin(), head.end());
    head_sent_ = false;
    chunk_open_ = false;
    rx_.clear();
  }

  bool preamble_pending() const override { return !head_sent_; }

  bool write_preamble(lws* wsi) override {
    const size_t n = head_.size() - LWS_PRE;
    if (lws_write(wsi, head_.data() + LWS_PRE, n, LWS_WRITE_RAW) < static_cast<int>(n)) return false;
    head_sent_ = true;
    return true;
  }

  bool write_chunk(lws* wsi, const Chunk& c) override {
    // "\r\n" ends the previous chunk's data (sent lazily, so no bytes are needed after this one).
    char prefix[24];
    const int k = std::snprintf(prefix, sizeof prefix, "%s%x\r\n", chunk_open_ ? "\r\n" : "",
                                static_cast<unsigned>(c.size()));
    if (k <= 0 || static_cast<size_t>(k) > kChunkHeadroom) return false;
    uint8_t* data = c.wire_data() - k;
    std::memcpy(data, prefix, static_cast<size_t>(k));
    chunk_open_ = true;
    return lws_write(wsi, data, c.size() + static_cast<size_t>(k), LWS_WRITE_RAW) >= 0;
  }

  void finish(lws* wsi) override {
    if (!head_sent_) return;
    static const char kEndOpen[] = "\r\n0\r\n\r\n";
    const char* end = chunk_open_ ? kEndOpen : kEndOpen + 2;
    const size_t n = std::strlen(end);
    uint8_t buf[LWS_PRE + sizeof kEndOpen];
    std::memcpy(buf + LWS_PRE, end, n);
    lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_RAW);
  }

  std::optional<std::string> on_rx(const uint8_t* data, size_t len) override {
    const size_t take = std::min(len, kMaxResponseBytes - std::min(kMaxResponseBytes, rx_.size()));
    rx_.append(reinterpret_cast<const char*>(data), take);
    for (;;) {
      const size_t head_end = rx_.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        if (rx_.size() >= kMaxResponseBytes) return std::string("downstream sent something that is not an HTTP response");
        return std::nullopt;
      }
      const int status = std::atoi(rx_.c_str() + std::min<size_t>(rx_.size(), 9));
      if (status == 100) {  // 100 Continue: the body is welcome
        rx_.erase(0, head_end + 4);
        continue;
      }
      // Wait for a short body (the ingest's reason) unless it is cut off or already complete.
      const size_t cl_at = find_header(rx_.substr(0, head_end), "content-length:");
      const size_t body_len = cl_at == std::string::npos ? 0 : static_cast<size_t>(std::atol(rx_.c_str() + cl_at));
      if (rx_.size() < head_end + 4 + std::min(body_len, size_t{512}) && rx_.size() < kMaxResponseBytes) {
        return std::nullopt;
      }
      return describe_response(head_end);
    }
  }

  std::string close_reason() const override { return rx_.empty() ? std::string() : describe_response(rx_.find("\r\n\r\n")); }

 private:
  /// Offset of the value of header `name_lc` (lower case, with ':') in `head`, or npos.
  static size_t find_header(const std::string& head, const char* name_lc) {
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const size_t at = lower.find(std::string("\r\n") + name_lc);
    return at == std::string::npos ? at : at + 2 + std::strlen(name_lc);
  }

  /// "refused by the downstream: 508 Loop Detected: <first body line>" from the response in rx_.
  std::string describe_response(size_t head_end) const {
    const size_t line_end = rx_.find("\r\n");
    std::string status = rx_.substr(0, std::min(line_end, size_t{120}));
    if (status.rfind("HTTP/", 0) == 0 && status.find(' ') != std::string::npos) status = status.substr(status.find(' ') + 1);
    std::string body;
    if (head_end != std::string::npos) {
      body = rx_.substr(head_end + 4, 200);
      body = body.substr(0, body.find_first_of("\r\n"));
    }
    const int code = std::atoi(status.c_str());
    const std::string prefix = code >= 200 && code < 300 ? "downstream ended the request: " : "refused by the downstream: ";
    return prefix + status + (body.empty() ? "" : ": " + body);
  }

  std::vector<uint8_t> head_;  // LWS_PRE + the request head
  bool head_sent_ = false;
  bool chunk_open_ = false;    // a chunk's data was sent without its closing CRLF
  std::string rx_;             // the downstream's HTTP response so far
};

/// One binary WebSocket message per chunk.
class WsPushWire final : public PushWire {
 public:
  bool write_chunk(lws* wsi, const Chunk& c) override {
    if (buf_.size() < LWS_PRE + c.size()) buf_.resize(LWS_PRE + c.size());  // grows to the largest chunk once
    std::memcpy(buf_.data() + LWS_PRE, c.data(), c.size());
    return lws_write(wsi, buf_.data() + LWS_PRE, c.size(), LWS_WRITE_BINARY) >= 0;
  }
  void finish(lws* wsi) override { lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0); }

 private:
  std::vector<uint8_t> buf_;  // LWS_PRE + a copy of the chunk being sent
};

/// Raw TS bytes, straight from the shared chunk.
class RawPushWire final : public PushWire {
 public:
  bool write_chunk(lws* wsi, const Chunk& c) override { return lws_write(wsi, c.wire_data(), c.size(), LWS_WRITE_RAW) >= 0; }
};

}  // namespace

std::unique_ptr<PushWire> make_push_wire(std::string_view scheme) {
  if (scheme == "http") return std::make_unique<HttpPushWire>();
  if (scheme == "ws") return std::make_unique<WsPushWire>();
  if (scheme == "tcp") return std::make_unique<RawPushWire>();
  return nullptr;
}

}  // namespace mpegcast::relay
