// The avio_open2 options an output link passes for its URL's scheme, one table row per scheme
// (http/https chunked POST, tcp, udp, srt; any other scheme gets only the generic timeout).
#pragma once
#include "av_output_config.h"
#include "ff_io.h"

namespace mpegcast {

/// TS packets per UDP datagram / SRT packet: 7 × 188 = 1316 bytes, the size every receiver expects.
constexpr int kTsPacketsPerDatagram = 7;

/// Adds to `opts` what writing `cfg.url` needs: rw_timeout (µs) for all; for http(s) a chunked
/// POST that stays open; for tcp-based schemes the connect timeout and a capped SO_SNDBUF
/// (`send_buffer_bytes`); for udp and srt `pkt_size` = 1316 bytes unless the URL's query sets it.
void add_av_output_options(const AvOutputConfig& cfg, Dict& opts);

}  // namespace mpegcast
