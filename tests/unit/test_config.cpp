// Config loading: defaults, and errors that name file, line and key (exit status 2 in the programs).
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "cidr.h"
#include "config_file.h"
#include "relay_config.h"
#include "url.h"

using namespace mpegcast;

namespace {

std::string write_temp(const std::string& text) {
  char tmpl[] = "/tmp/mpegcast-conf-XXXXXX";
  const int fd = mkstemp(tmpl);
  BOOST_REQUIRE(fd >= 0);
  std::ofstream(tmpl) << text;
  return tmpl;
}

std::string load_error(const std::string& text, std::string* path_out = nullptr) {
  const std::string path = write_temp(text);
  if (path_out) *path_out = path;
  try {
    ConfigFile f(path);
    relay::load_relay_config(f);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(shipped_relay_conf_is_valid_and_matches_defaults) {
  ConfigFile f(std::string(MPEGCAST_SOURCE_DIR) + "/conf/relay.conf");
  const relay::RelayConfig c = relay::load_relay_config(f);
  const relay::RelayConfig d;
  BOOST_TEST(c.listen.port == 8080);
  BOOST_TEST(c.listen.host == "0.0.0.0");
  BOOST_TEST(c.ingest_listen.host == "127.0.0.1");  // publishing stays private by default
  BOOST_TEST(c.ingest_listen.port == 8081);
  BOOST_TEST(c.hub.max_lag_ms == d.hub.max_lag_ms);
  BOOST_TEST(c.viewer_sndbuf_bytes == d.viewer_sndbuf_bytes);
  BOOST_TEST(c.event_loop == "epoll");
  BOOST_TEST(c.event_loop == d.event_loop);
}

BOOST_AUTO_TEST_CASE(errors_name_file_line_and_key) {
  std::string path;
  std::string e = load_error("listen = \"0.0.0.0:8080\";\nhub = {\n  max_lag_ms = 5;\n};\n", &path);
  BOOST_TEST(e == path + ":3: hub.max_lag_ms: value 5 is out of range [100, 600000]");

  e = load_error("hub = { stall_timeout_s = \"ten\"; };\n", &path);
  BOOST_TEST(e == path + ":1: hub.stall_timeout_s: expected an integer, found a string");

  e = load_error("\n\nlisten_port = 8080;\n", &path);
  BOOST_TEST(e == path + ":3: listen_port: unknown key");

  e = load_error("streams = ( { name = \"cam1\"; secrt = \"x\"; } );\n", &path);
  BOOST_TEST(e.find(path + ":1: ") == 0u);
  BOOST_TEST(e.find("secrt: unknown key") != std::string::npos);

  e = load_error("streams = ( { name = \"a b\"; } );\n", &path);
  BOOST_TEST(e.find("name: missing or not [A-Za-z0-9_-]{1,64}") != std::string::npos);

  e = load_error("listen = \"0.0.0.0:99999\";\n", &path);
  BOOST_TEST(e.find(path + ":1: listen: ") == 0u);

  e = load_error("listen = \"x\"\nfoo bar\n", &path);
  BOOST_TEST(e.find(path + ":2: parse error") == 0u);

  try {
    ConfigFile f("/nonexistent/relay.conf");
    BOOST_FAIL("no error for a missing file");
  } catch (const ConfigError& e2) {
    BOOST_TEST(std::string(e2.what()) == "/nonexistent/relay.conf: cannot read the file");
  }
}

BOOST_AUTO_TEST_CASE(config_from_text_reads_like_a_file) {
  ConfigFile f = ConfigFile::from_text("hub = { max_lag_ms = 500; };\n", "mem.conf");
  BOOST_TEST(f.path() == "mem.conf");
  BOOST_TEST(relay::load_relay_config(f).hub.max_lag_ms == 500);
  try {
    ConfigFile g = ConfigFile::from_text("\nhub = { max_lag_ms = 5; };\n", "mem.conf");
    relay::load_relay_config(g);
    BOOST_FAIL("no error for an out-of-range value");
  } catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()) == "mem.conf:2: hub.max_lag_ms: value 5 is out of range [100, 600000]");
  }
  try {
    ConfigFile::from_text("listen = \"x\"\nfoo bar\n", "mem.conf");
    BOOST_FAIL("no error for a parse error");
  } catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()).find("mem.conf:2: parse error") == 0u);
  }
}

BOOST_AUTO_TEST_CASE(relay_check_config_exit_status) {
  const std::string bin = MPEGCAST_RELAY_BIN;
  const std::string good = std::string(MPEGCAST_SOURCE_DIR) + "/conf/relay.conf";
  BOOST_TEST(std::system((bin + " -c " + good + " --check-config >/dev/null").c_str()) == 0);
  const std::string bad = write_temp("hub = { max_lag_ms = -1; };\n");
  const int rc = std::system((bin + " -c " + bad + " --check-config 2>/dev/null").c_str());
  BOOST_TEST(WEXITSTATUS(rc) == 2);
}

BOOST_AUTO_TEST_CASE(urls_and_listen_addresses) {
  auto u = parse_url("http://127.0.0.1:8081/publish/cam1?secret=a%20b");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->scheme == "http");
  BOOST_TEST(u->host == "127.0.0.1");
  BOOST_TEST(u->port == 8081);
  BOOST_TEST(u->path == "/publish/cam1");
  BOOST_TEST(*query_param(u->query, "secret") == "a b");
  auto v6 = parse_url("udp://[::1]:1234");
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(!parse_url("no-scheme"));
  BOOST_TEST(!parse_url("http://host:70000/"));
  auto l = parse_listen_address("8080", "0.0.0.0");
  BOOST_TEST(l->host == "0.0.0.0");
  BOOST_TEST(l->port == 8080);
  l = parse_listen_address("127.0.0.1:0", "0.0.0.0");
  BOOST_TEST(l->port == 0);
  BOOST_TEST(!parse_listen_address("127.0.0.1:x", "0.0.0.0"));
}

BOOST_AUTO_TEST_CASE(cidr_allow_lists) {
  auto v4 = [](const char* ip) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
  };
  CidrList lan({*parse_cidr("10.0.0.0/8"), *parse_cidr("192.168.1.7"), *parse_cidr("::1")});
  sockaddr_in a = v4("10.200.3.4"), b = v4("11.0.0.1"), c = v4("192.168.1.7"), d = v4("192.168.1.8");
  BOOST_TEST(lan.allows(reinterpret_cast<sockaddr*>(&a)));
  BOOST_TEST(!lan.allows(reinterpret_cast<sockaddr*>(&b)));
  BOOST_TEST(lan.allows(reinterpret_cast<sockaddr*>(&c)));
  BOOST_TEST(!lan.allows(reinterpret_cast<sockaddr*>(&d)));
  sockaddr_in6 l6{};
  l6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::1", &l6.sin6_addr);
  BOOST_TEST(lan.allows(reinterpret_cast<sockaddr*>(&l6)));
  BOOST_TEST(CidrList().allows(reinterpret_cast<sockaddr*>(&b)));  // empty list: anyone
  BOOST_TEST(!parse_cidr("10.0.0.0/33"));
  BOOST_TEST(!parse_cidr("not-an-ip"));
  BOOST_TEST(!parse_cidr("10.0.0.0/"));

  std::string path;
  const std::string e = load_error("ingest = { tcp = ( { listen = \"127.0.0.1:9000\"; stream = \"a\"; allow = [ \"10.0.0.0/40\" ]; } ); };\n", &path);
  BOOST_TEST(e.find(path + ":1: ") == 0u);
  BOOST_TEST(e.find("allow: \"10.0.0.0/40\" is not an address or CIDR network") != std::string::npos);
}
