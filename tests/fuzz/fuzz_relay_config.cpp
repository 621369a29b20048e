// fuzz_relay_config: relay/relay_config.h load_relay_config() on the input as the text of a
// relay.conf (ConfigFile::from_text, libconfig's parser). A ConfigError naming the file is the
// expected outcome for bad text; any other exception, a crash or undefined behaviour is a bug.
// For a config that loads, asserted: the values are within the ranges the file format documents
// (listen ports 0..65535, stream names and node id valid, every push link with a known scheme and
// a port), so the relay never starts on something its validation should have refused.
#include <cstdint>

#include "cascade_via.h"
#include "fuzz_check.h"
#include "fuzz_config_text.h"
#include "link_scheme.h"
#include "log.h"
#include "relay_config.h"
#include "stream_name.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

void check(const RelayConfig& c) {
  FUZZ_CHECK(c.node_id.empty() || valid_node_id(c.node_id));
  FUZZ_CHECK(c.cascade_max_hops >= 1 && c.cascade_max_hops <= 64);
  FUZZ_CHECK(c.listen.port >= 0 && c.listen.port <= 65535 && !c.listen.host.empty());
  FUZZ_CHECK(c.ingest_listen.port >= 0 && c.ingest_listen.port <= 65535 && !c.ingest_listen.host.empty());
  FUZZ_CHECK(valid_stream_name(c.default_stream));
  FUZZ_CHECK(c.hub.max_chunk_bytes >= 188 && c.hub.gop_cache_max_bytes >= 64 * 1024);
  FUZZ_CHECK(c.hub.max_lag_ms >= 100 && c.hub.stall_timeout_s >= 1);
  for (const auto& [name, policy] : c.streams) FUZZ_CHECK(valid_stream_name(name));
  for (const auto* list : {&c.tcp_ingest, &c.udp_ingest}) {
    for (const RawIngestConfig& r : *list) FUZZ_CHECK(valid_stream_name(r.stream) && r.listen.port > 0);
  }
  for (const PushConfig& p : c.push) {
    FUZZ_CHECK(valid_stream_name(p.stream));
    const LinkScheme* scheme = find_link_scheme(p.target.scheme);  // http, ws, tcp, udp, srt: the table's push rows
    FUZZ_CHECK(scheme && scheme->push);
    FUZZ_CHECK(p.target.port > 0 && p.target.port <= 65535 && !p.target.host.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    set_log_level(LogLevel::err);  // load_relay_config warns about some valid combinations
    return true;
  }();
  (void)quiet;
  fuzz::load_config_text(data, size, [](ConfigFile& f) { check(load_relay_config(f)); });
  return 0;
}
