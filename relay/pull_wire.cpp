#include "pull_wire.h"

#include <cstring>
#include <vector>

#include "http_response_parser.h"
#include "version.h"

namespace mpegcast::relay {
namespace {

/// GET of the upstream's HTTP-TS.
class HttpPullWire final : public PullWire, public HttpResponseHandler {
 public:
  std::string path_for(const std::string& stream) const override { return "/live/" + stream + ".ts"; }

  bool start(const std::string& target, const std::string& host, const std::string& via, PullSink& sink) override {
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: mpegcast-relay/" +
                            kVersion + "\r\nAccept: video/mp2t\r\nX-Mpegcast-Via: " + via + "\r\n\r\n";
    request_.assign(LWS_PRE, 0);
    request_.insert(request_.end(), req.begin(), req.end());
    request_sent_ = false;
    parser_ = std::make_unique<HttpResponseParser>(*this);
    sink_ = &sink;
    error_.clear();
    accepted_ = false;
    return true;
  }

  bool request_pending() const override { return !request_sent_; }

  bool write_request(lws* wsi) override {
    const size_t n = request_.size() - LWS_PRE;
    if (lws_write(wsi, request_.data() + LWS_PRE, n, LWS_WRITE_RAW) < static_cast<int>(n)) return false;
    request_sent_ = true;
    return true;
  }

  std::optional<std::string> on_rx(const uint8_t* data, size_t len, PullSink& sink) override {
    sink_ = &sink;
    const HttpResponseParser::Status st = parser_->feed(data, len);
    if (!error_.empty()) return error_;
    if (st == HttpResponseParser::Status::bad_response) {
      return std::string("upstream sent something that is not an HTTP response (") + parser_->error() + ")";
    }
    if (st == HttpResponseParser::Status::stopped) return std::string("upstream ended the stream");
    return std::nullopt;
  }

  std::string close_reason() override {
    if (!error_.empty()) return error_;
    return accepted_ ? "upstream closed the stream" : "upstream closed the connection without a response";
  }

 private:
  bool on_head(const HttpResponseHead& head) override {
    if (head.status != 200) {
      error_ = "refused by the upstream: " + std::to_string(head.status) + " " + head.reason;
      return false;
    }
    accepted_ = true;
    if (!sink_->on_accepted(head.via)) {
      error_ = "stream taken by a local publisher";
      return false;
    }
    return true;
  }
  bool on_body(const uint8_t* data, size_t len) override {
    if (sink_->on_ts(data, len)) return true;
    error_ = "upstream's data refused by the hub (not MPEG-TS, or above max_bitrate_bps)";
    return false;
  }
  void on_complete() override {}

  std::vector<uint8_t> request_;
  bool request_sent_ = false;
  bool accepted_ = false;
  std::unique_ptr<HttpResponseParser> parser_;
  PullSink* sink_ = nullptr;
  std::string error_;
};

/// A WebSocket viewer of the upstream: binary messages are TS.
class WsPullWire final : public PullWire {
 public:
  std::string path_for(const std::string& stream) const override { return "/live/" + stream; }
  bool start(const std::string&, const std::string&, const std::string&, PullSink& sink) override {
    return sink.on_accepted("");
  }
  std::optional<std::string> on_rx(const uint8_t* data, size_t len, PullSink& sink) override {
    if (sink.on_ts(data, len)) return std::nullopt;
    return std::string("upstream's data refused by the hub (not MPEG-TS, or above max_bitrate_bps)");
  }
};

}  // namespace

std::unique_ptr<PullWire> make_pull_wire(std::string_view scheme) {
  if (scheme == "http") return std::make_unique<HttpPullWire>();
  if (scheme == "ws") return std::make_unique<WsPullWire>();
  return nullptr;
}

}  // namespace mpegcast::relay
