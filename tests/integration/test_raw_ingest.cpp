// Raw MPEG-TS ingest over TCP and UDP, published by the ffmpeg CLI (the seed scripts' forms
// `-f mpegts tcp://HOST:PORT` and `udp://HOST:PORT`), checked by decoding what an HTTP-TS viewer
// receives; plus the CIDR allow-list and the refusal of a second TCP publisher.
#define BOOST_TEST_MODULE test_raw_ingest
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "collect.h"
#include "decode_ts.h"
#include "free_port.h"
#include "http_stream_reader.h"
#include "process.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

struct RawIngestRelay {
  uint16_t viewer = free_port(), ingest = free_port(), tcp = free_port(), udp = free_port(), denied = free_port();
  std::string conf = std::string(MPEGCAST_BINARY_DIR) + "/test-logs/raw_ingest_relay.conf";
  std::unique_ptr<Process> relay;

  RawIngestRelay() {
    std::ofstream(conf) << "ingest = {\n"
                        << "  publisher_timeout_s = 3;\n"
                        << "  tcp = ( { listen = \"127.0.0.1:" << tcp << "\"; stream = \"tcpcam\"; allow = [ \"127.0.0.0/8\" ]; },\n"
                        << "          { listen = \"127.0.0.1:" << denied << "\"; stream = \"denied\"; allow = [ \"10.0.0.0/8\" ]; } );\n"
                        << "  udp = ( { listen = \"127.0.0.1:" << udp << "\"; stream = \"udpcam\"; } );\n"
                        << "};\n";
    relay = std::make_unique<Process>(
        "relay", std::vector<std::string>{MPEGCAST_RELAY_BIN, "-c", conf, "--listen", "127.0.0.1:" + std::to_string(viewer),
                                          "--ingest-listen", "127.0.0.1:" + std::to_string(ingest), "--web-root",
                                          MPEGCAST_WEB_ROOT});
    BOOST_TEST_REQUIRE(relay->wait_for_log("ready", 10000), "relay did not start: see " << relay->log_path());
  }

  /// ffmpeg CLI publishing 320x240 MPEG-1 at 25 fps to `url` for `seconds`.
  static std::unique_ptr<Process> ffmpeg(const std::string& name, const std::string& url, int seconds) {
    return std::make_unique<Process>(
        name, std::vector<std::string>{"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-re", "-f", "lavfi", "-i",
                                       "testsrc2=size=320x240:rate=25", "-t", std::to_string(seconds), "-c:v", "mpeg1video",
                                       "-b:v", "800k", "-bf", "0", "-g", "25", "-f", "mpegts", url});
  }

  /// Reads /live/<stream>.ts for `ms` after the first byte and decodes it.
  DecodeResult watch(const std::string& stream, int ms, double* seconds) {
    HttpStreamReader r(viewer, "/live/" + stream + ".ts");
    r.connect();
    *seconds = collect(r, 8000, ms);
    BOOST_TEST_REQUIRE(*seconds > 0, "no data on /live/" << stream << ".ts: " << r.error());
    return decode_ts(r.body());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(tcp_and_udp_publishers_reach_viewers) {
  RawIngestRelay s;
  auto tcp_pub = RawIngestRelay::ffmpeg("ffmpeg-tcp", "tcp://127.0.0.1:" + std::to_string(s.tcp), 12);
  auto udp_pub = RawIngestRelay::ffmpeg("ffmpeg-udp", "udp://127.0.0.1:" + std::to_string(s.udp) + "?pkt_size=1316", 12);
  BOOST_TEST_REQUIRE(s.relay->wait_for_log("tcp ingest .*publishing stream tcpcam", 8000));
  BOOST_TEST_REQUIRE(s.relay->wait_for_log("udp ingest .*publishing stream udpcam", 8000));
  for (const char* stream : {"tcpcam", "udpcam"}) {
    double secs = 0;
    DecodeResult d = s.watch(stream, 3000, &secs);
    BOOST_TEST_MESSAGE(stream << ": " << d.summary() << " over " << secs << " s");
    BOOST_TEST(d.codec == "mpeg1video");
    BOOST_TEST(d.width == 320);
    BOOST_TEST(d.frames_decoded >= 0.9 * 25 * secs, stream << ": decoded " << d.frames_decoded << " frames in " << secs << " s");
  }
}

BOOST_AUTO_TEST_CASE(tcp_allow_list_and_second_publisher_are_refused) {
  RawIngestRelay s;
  auto outsider = RawIngestRelay::ffmpeg("ffmpeg-denied", "tcp://127.0.0.1:" + std::to_string(s.denied), 3);
  BOOST_TEST(s.relay->wait_for_log("refused for stream denied: not in allow list", 8000));
  auto first = RawIngestRelay::ffmpeg("ffmpeg-first", "tcp://127.0.0.1:" + std::to_string(s.tcp), 10);
  BOOST_TEST_REQUIRE(s.relay->wait_for_log("publishing stream tcpcam", 8000));
  const size_t mark = s.relay->log_size();
  auto second = RawIngestRelay::ffmpeg("ffmpeg-second", "tcp://127.0.0.1:" + std::to_string(s.tcp), 3);
  BOOST_TEST(s.relay->wait_for_log("refused for stream tcpcam: stream already has a publisher", 8000, mark));
  // The first publisher's viewers are not disturbed.
  double secs = 0;
  DecodeResult d = s.watch("tcpcam", 2500, &secs);
  BOOST_TEST(d.frames_decoded >= 0.9 * 25 * secs, "decoded " << d.frames_decoded << " frames in " << secs << " s");
}
