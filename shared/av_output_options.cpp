#include "av_output_options.h"

#include <string_view>

#include "ts_packet.h"
#include "url.h"

namespace mpegcast {
namespace {

struct OutputScheme {
  const char* name;
  bool http_post;      // an HTTP POST with a chunked body that stays open for the whole stream
  bool stream_socket;  // TCP underneath: connect timeout, capped kernel send buffer
  int datagram_bytes;  // > 0: payload bytes per datagram / SRT packet unless the URL's query says pkt_size
};

constexpr int kDatagramBytes = kTsPacketsPerDatagram * static_cast<int>(kTsPacketSize);

constexpr OutputScheme kSchemes[] = {
    {"http", true, true, 0},
    {"https", true, true, 0},
    {"tcp", false, true, 0},
    {"udp", false, false, kDatagramBytes},
    {"srt", false, false, kDatagramBytes},
};

const OutputScheme* find_scheme(std::string_view name) {
  for (const OutputScheme& s : kSchemes) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace

void add_av_output_options(const AvOutputConfig& cfg, Dict& opts) {
  const int64_t timeout_us = cfg.rw_timeout_ms * 1000;
  opts.set("rw_timeout", timeout_us);
  const auto url = parse_url(cfg.url);
  const OutputScheme* scheme = url ? find_scheme(url->scheme) : nullptr;
  if (!scheme) return;
  if (scheme->http_post) {
    opts.set("method", "POST");
    opts.set("chunked_post", 1);
    opts.set("multiple_requests", 0);
    opts.set("user_agent", cfg.user_agent.c_str());
    opts.set("content_type", "video/mp2t");
  }
  if (scheme->stream_socket) {
    opts.set("timeout", timeout_us);
    // A small kernel send buffer keeps the lag in our queue, where it is measured and bounded.
    if (cfg.send_buffer_bytes > 0) opts.set("send_buffer_size", cfg.send_buffer_bytes);
  }
  if (scheme->datagram_bytes > 0 && !query_param(url->query, "pkt_size")) opts.set("pkt_size", scheme->datagram_bytes);
}

}  // namespace mpegcast
