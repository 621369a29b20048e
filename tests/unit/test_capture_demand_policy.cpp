// capture on demand: the relay API URL derived from a target, the viewers of a stream document,
// the encode / pause decision with its linger, and the config keys.
#define BOOST_TEST_MODULE capture_demand_policy
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "capture_config.h"
#include "config_file.h"
#include "demand.h"

using namespace mpegcast;
using namespace mpegcast::capture;

BOOST_AUTO_TEST_CASE(default_url_is_the_relays_api_on_its_viewer_port) {
  BOOST_TEST(default_demand_url("http://127.0.0.1:8081/publish/cam1") == "http://127.0.0.1:8080/api/v1/streams/cam1");
  BOOST_TEST(default_demand_url("http://relay.example:9000/publish/cam-2?secret=x") ==
             "http://relay.example:8080/api/v1/streams/cam-2");
  BOOST_TEST(default_demand_url("https://[::1]:8443/publish/a") == "https://[::1]:8080/api/v1/streams/a");
  BOOST_TEST(default_demand_url("tcp://127.0.0.1:9000").empty());
  BOOST_TEST(default_demand_url("srt://127.0.0.1:9000?streamid=cam1").empty());
  BOOST_TEST(default_demand_url("http://127.0.0.1:8081/other/cam1").empty());
  BOOST_TEST(default_demand_url("http://127.0.0.1:8081/publish/").empty());
}

BOOST_AUTO_TEST_CASE(viewers_of_a_stream_document) {
  BOOST_TEST(*viewers_in_stream_json(R"({"name":"cam1","viewers":3,"publisher":null})") == 3);
  BOOST_TEST(*viewers_in_stream_json(R"({"viewers":0})") == 0);
  BOOST_TEST(!viewers_in_stream_json(R"({"error":"no such stream"})"));
  BOOST_TEST(!viewers_in_stream_json(R"({"viewers":"3"})"));
  BOOST_TEST(!viewers_in_stream_json(R"({"viewers":-1})"));
  BOOST_TEST(!viewers_in_stream_json("[1,2]"));
  BOOST_TEST(!viewers_in_stream_json("<html>"));
  BOOST_TEST(!viewers_in_stream_json(""));
}

BOOST_AUTO_TEST_CASE(policy_first_reading_decides_then_linger) {
  DemandPolicy p(10000);
  BOOST_TEST(!p.update(0, 0));  // nobody at start: paused at once, no linger
  BOOST_TEST(!p.update(250, 0));
  BOOST_TEST(p.update(500, 1));  // a viewer: encode at once
  BOOST_TEST(p.update(750, 0));  // left: linger
  BOOST_TEST(p.update(10499, 0));
  BOOST_TEST(!p.update(10750, 0));  // 10 s after the last demand
  BOOST_TEST(p.update(11000, 2));
}

BOOST_AUTO_TEST_CASE(policy_unknown_counts_as_demand) {
  DemandPolicy first_unknown(1000);
  BOOST_TEST(first_unknown.update(0, std::nullopt));  // the relay does not answer: encode
  DemandPolicy p(1000);
  BOOST_TEST(!p.update(0, 0));
  BOOST_TEST(p.update(100, std::nullopt));
  BOOST_TEST(p.update(1000, 0));  // linger counts from the last unknown reading
  BOOST_TEST(!p.update(1100, 0));
  DemandPolicy no_linger(0);
  BOOST_TEST(no_linger.update(0, 1));
  BOOST_TEST(!no_linger.update(1, 0));
}

namespace {
CaptureConfig load(const std::string& text) {
  char name[] = "/tmp/test_capture_demand_XXXXXX";
  const int fd = mkstemp(name);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(name) << text;
  struct Remove {
    const char* p;
    ~Remove() { std::remove(p); }
  } remove{name};
  ConfigFile file(name);
  return load_capture_config(file);
}
std::string error_of(const std::string& text) {
  try {
    CaptureConfig c = load(text);
    resolve_demand_urls(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(config_keys_and_defaults) {
  CaptureConfig off = load("");
  BOOST_TEST(!off.demand.on_demand);
  BOOST_TEST(off.demand.linger_s == 10);
  CaptureConfig c = load(
      "on_demand = true;\ndemand_linger_s = 3;\ndemand_poll_ms = 100;\ndemand_token = \"t0k\";\n"
      "targets = ( \"http://10.0.0.5:8081/publish/cam7\", \"srt://10.0.0.6:9000\" );\n");
  resolve_demand_urls(c);
  BOOST_TEST(c.demand.on_demand);
  BOOST_TEST(c.demand.linger_s == 3);
  BOOST_TEST(c.demand.poll_ms == 100);
  BOOST_TEST(c.demand.token == "t0k");
  BOOST_TEST_REQUIRE(c.demand.urls.size() == 1u);
  BOOST_TEST(c.demand.urls[0] == "http://10.0.0.5:8080/api/v1/streams/cam7");
  CaptureConfig given = load(
      "on_demand = true;\ndemand_urls = [ \"http://127.0.0.1:9080/api/v1/streams/x\" ];\n"
      "targets = ( \"http://127.0.0.1:9081/publish/x\" );\n");
  resolve_demand_urls(given);
  BOOST_TEST(given.demand.urls == std::vector<std::string>{"http://127.0.0.1:9080/api/v1/streams/x"});
}

BOOST_AUTO_TEST_CASE(config_errors_name_the_key) {
  BOOST_TEST(error_of("demand_linger_s = -1;\n").find(":1: demand_linger_s") != std::string::npos);
  BOOST_TEST(error_of("demand_urls = [ \"tcp://x:1\" ];\n").find(":1: demand_urls") != std::string::npos);
  BOOST_TEST(error_of("on_demand = true;\ntargets = ( \"udp://127.0.0.1:9000\" );\n").find("on_demand: no target") !=
             std::string::npos);
}
