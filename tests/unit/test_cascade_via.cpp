// Cascade loop/depth protection (X-Mpegcast-Via parsing and checks), secret masking in push link
// logs, and the relay.conf `push` / `cascade_max_hops` / `node_id` keys (with the udp:// and
// srt:// rows of the link scheme table).
#define BOOST_TEST_MODULE cascade_via
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "cascade_via.h"
#include "config_file.h"
#include "link_scheme.h"
#include "url.h"
#include "relay_config.h"

using namespace mpegcast;
using namespace mpegcast::relay;
using Via = std::vector<std::string>;

namespace {

/// Loads `text` as a relay.conf; returns "" or the ConfigError text.
std::string load(const std::string& text, RelayConfig* out = nullptr) {
  char path[] = "/tmp/mpegcast-cascade-conf-XXXXXX";
  const int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  std::string error;
  try {
    ConfigFile f(path);
    RelayConfig c = load_relay_config(f);
    if (out) *out = c;
  } catch (const ConfigError& e) {
    error = e.what();
  }
  unlink(path);
  return error;
}

}  // namespace

BOOST_AUTO_TEST_CASE(parse_via_splits_and_trims) {
  BOOST_TEST(parse_via("") == Via{});
  BOOST_TEST(parse_via("   ") == Via{});
  BOOST_TEST(parse_via("a") == (Via{"a"}));
  BOOST_TEST(parse_via("a,b") == (Via{"a", "b"}));
  BOOST_TEST(parse_via(" a ,\tb,  c  ") == (Via{"a", "b", "c"}));
  BOOST_TEST(parse_via("a,,b,") == (Via{"a", "b"}));
  BOOST_TEST(parse_via(",,") == Via{});
  BOOST_TEST(parse_via("edge-1.example, origin") == (Via{"edge-1.example", "origin"}));
  // Bounded: an absurd header is cut at kMaxViaEntries.
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "n" + std::to_string(i) + ",";
  BOOST_TEST(parse_via(big).size() == kMaxViaEntries);
}

BOOST_AUTO_TEST_CASE(format_via_round_trips) {
  BOOST_TEST(format_via({}) == "");
  BOOST_TEST(format_via({"a"}) == "a");
  BOOST_TEST(format_via({"a", "b", "c"}) == "a, b, c");
  const Via v{"origin", "mid-1", "edge"};
  BOOST_TEST(parse_via(format_via(v)) == v);
}

BOOST_AUTO_TEST_CASE(check_via_accepts_a_clean_path) {
  BOOST_TEST(check_via({}, "b", 8) == "");
  BOOST_TEST(check_via({"a"}, "b", 8) == "");
  BOOST_TEST(check_via({"a", "c", "d"}, "b", 3) == "");  // exactly max_hops is fine
}

BOOST_AUTO_TEST_CASE(check_via_refuses_loops) {
  BOOST_TEST(check_via({"b"}, "b", 8) == "loop: node b already in the path");
  BOOST_TEST(check_via({"a", "b", "c"}, "b", 8) == "loop: node b already in the path");
  BOOST_TEST(check_via({"a", "c", "a"}, "b", 8) == "loop: node a appears twice in the path");
  // A loop is reported even when the path is also too long.
  BOOST_TEST(check_via({"a", "b", "c"}, "c", 1) == "loop: node c already in the path");
}

BOOST_AUTO_TEST_CASE(check_via_refuses_entries_that_are_not_node_ids) {
  // Found by fuzz_cascade_via: a folded header line ("a,\r\n b x") or bytes above 0x7e reached the
  // stream's path, the logs, the 508 body and the downstream pushes' own X-Mpegcast-Via.
  BOOST_TEST(check_via({"a", "b x"}, "c", 8) == "bad path: entry 2 is not a node id");
  BOOST_TEST(check_via({"caf\xc3\xa9"}, "c", 8) == "bad path: entry 1 is not a node id");
  BOOST_TEST(check_via({std::string(65, 'n')}, "c", 8) == "bad path: entry 1 is not a node id");
  BOOST_TEST(check_via({std::string(64, 'n')}, "c", 8) == "");
  BOOST_TEST(check_via(parse_via("a,\r\n b x"), "c", 8) == "bad path: entry 2 is not a node id");
}

BOOST_AUTO_TEST_CASE(check_via_refuses_deep_trees) {
  BOOST_TEST(check_via({"a", "c", "d", "e"}, "b", 3) == "too deep: 4 hops > 3");
  Via nine;
  for (int i = 0; i < 9; ++i) nine.push_back("n" + std::to_string(i));
  BOOST_TEST(check_via(nine, "me", kDefaultCascadeMaxHops) == "too deep: 9 hops > 8");
}

BOOST_AUTO_TEST_CASE(node_ids) {
  BOOST_TEST(valid_node_id("relay-a"));
  BOOST_TEST(valid_node_id("host.example.org"));
  BOOST_TEST(!valid_node_id(""));
  BOOST_TEST(!valid_node_id("a,b"));
  BOOST_TEST(!valid_node_id("a b"));
  BOOST_TEST(!valid_node_id(std::string(65, 'x')));
  BOOST_TEST(valid_node_id(std::string(64, 'x')));
}

BOOST_AUTO_TEST_CASE(secrets_are_masked_in_urls) {
  BOOST_TEST(redact_url("http://h:8081/publish/cam1") == "http://h:8081/publish/cam1");
  BOOST_TEST(redact_url("http://h:8081/publish/cam1?secret=S3cr3t") == "http://h:8081/publish/cam1?secret=***");
  BOOST_TEST(redact_url("http://h/p?a=1&secret=x&b=2") == "http://h/p?a=1&secret=***&b=2");
  BOOST_TEST(redact_url("http://h/p?mysecret=x&secret=") == "http://h/p?mysecret=x&secret=***");
  BOOST_TEST(redact_url("tcp://10.0.0.1:9000") == "tcp://10.0.0.1:9000");
}

BOOST_AUTO_TEST_CASE(push_config_keys) {
  RelayConfig c;
  BOOST_TEST(load("", &c) == "");
  BOOST_TEST(c.push.empty());
  BOOST_TEST(c.cascade_max_hops == 8);

  BOOST_TEST(load("cascade_max_hops = 3;\nnode_id = \"origin-1\";\n"
                  "push = ( { stream = \"cam1\"; url = \"http://10.0.0.2:8081/publish/cam1?secret=S\"; },\n"
                  "         { stream = \"cam1\"; url = \"tcp://127.0.0.1:9000\"; },\n"
                  "         { stream = \"cam2\"; url = \"ws://edge.example/publish/cam2\"; } );\n",
                  &c) == "");
  BOOST_TEST(c.cascade_max_hops == 3);
  BOOST_TEST_REQUIRE(c.push.size() == 3u);
  BOOST_TEST(c.push[0].target.host == "10.0.0.2");
  BOOST_TEST(c.push[0].target.port == 8081);
  BOOST_TEST(c.push[0].target.query == "secret=S");
  BOOST_TEST(c.push[1].target.scheme == "tcp");
  BOOST_TEST(c.push[2].target.port == 80);

  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"https://h/publish/cam1\"; } );\n")
                 .find(":1: push.[0].url: scheme \"https\"") != std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"tcp://h\"; } );\n").find("tcp:// needs a port") != std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"a b\"; url = \"tcp://h:1\"; } );\n").find("stream") != std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"nonsense\"; } );\n").find("url") != std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"tcp://h:1\"; urll = \"x\"; } );\n").find("urll") !=
             std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"c\"; url = \"tcp://h:1\"; }, { stream = \"c\"; url = \"tcp://h:1\"; } );\n")
                 .find("listed twice") != std::string::npos);
  BOOST_TEST(load("cascade_max_hops = 0;\n").find("cascade_max_hops") != std::string::npos);
  BOOST_TEST(load("node_id = \"a,b\";\n").find("node_id") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(push_config_libavformat_schemes) {
  RelayConfig c;
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"udp://239.255.0.1:5000?ttl=4\"; },\n"
                  "         { stream = \"cam1\"; url = \"udp://127.0.0.1:5001\"; },\n"
                  "         { stream = \"cam1\"; url = \"srt://10.0.0.9:8890?latency=120000&passphrase=p4ssphr4se\"; } );\n",
                  &c) == "");
  BOOST_TEST_REQUIRE(c.push.size() == 3u);
  BOOST_TEST(c.push[0].target.scheme == "udp");
  BOOST_TEST(c.push[0].target.port == 5000);
  BOOST_TEST(c.push[0].target.query == "ttl=4");
  BOOST_TEST(c.push[2].target.query == "latency=120000&passphrase=p4ssphr4se");
  BOOST_TEST(redact_url(c.push[2].url) == "srt://10.0.0.9:8890?latency=120000&passphrase=***");
  const LinkScheme* udp = find_link_scheme("udp");
  const LinkScheme* srt = find_link_scheme("srt");
  BOOST_TEST_REQUIRE((udp && srt));
  BOOST_TEST((udp->transport == Transport::libavformat && srt->transport == Transport::libavformat));
  BOOST_TEST((!udp->pull && !srt->pull && !udp->carries_via && !srt->carries_via));

  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"udp://h\"; } );\n").find("udp:// needs a port") != std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"srt://h?latency=1\"; } );\n").find("srt:// needs a port") !=
             std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"srt://h:1/live\"; } );\n").find("srt:// takes no path") !=
             std::string::npos);
  BOOST_TEST(load("push = ( { stream = \"cam1\"; url = \"tcp://h:1?x=1\"; } );\n").find("tcp:// takes no query") !=
             std::string::npos);
  const std::string bad = load("push = ( { stream = \"cam1\"; url = \"rtmp://h:1/app\"; } );\n");
  BOOST_TEST(bad.find("udp://") != std::string::npos, bad);
  BOOST_TEST(bad.find("srt://") != std::string::npos, bad);
  BOOST_TEST(load("pull = ( { streams = \"*\"; upstreams = [ \"srt://h:1\" ]; } );\n").find("scheme \"srt\"") !=
             std::string::npos);
}
