// WebSocket publish (ws://HOST:INGEST_PORT/publish/<stream>): live MPEG-TS from the ffmpeg CLI
// forwarded as binary messages reaches HTTP-TS and WebSocket viewers and decodes; a second
// publisher is closed with 1008; a configured secret is enforced at the handshake; a text
// message is refused with 1003; HTTP POST publishing on the same listener still works.
#define BOOST_TEST_MODULE test_ws_ingest
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <atomic>
#include <thread>

#include "collect.h"
#include "decode_ts.h"
#include "free_port.h"
#include "http_get.h"
#include "http_stream_reader.h"
#include "process.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

struct WsIngestRelay {
  uint16_t viewer = free_port(), ingest = free_port();
  std::string conf = test_log_dir() + "/ws_ingest_relay.conf";
  std::unique_ptr<Process> relay;

  WsIngestRelay() {
    std::ofstream(conf) << "ingest = { publisher_timeout_s = 3; };\n"
                        << "streams = ( { name = \"locked\"; secret = \"s3cret\"; } );\n";
    relay = std::make_unique<Process>(
        "relay", std::vector<std::string>{MPEGCAST_RELAY_BIN, "-c", conf, "--listen", "127.0.0.1:" + std::to_string(viewer),
                                          "--ingest-listen", "127.0.0.1:" + std::to_string(ingest), "--web-root",
                                          MPEGCAST_WEB_ROOT});
    BOOST_TEST_REQUIRE(relay->wait_for_log("ready", 10000), "relay did not start: see " << relay->log_path());
  }
};

/// A live publisher: the ffmpeg CLI encodes testsrc2 in real time (-re) to MPEG-TS on its stdout,
/// and a thread forwards each 1316-byte read as one binary message on `ws`, for `seconds`.
class WsPublisherThread {
 public:
  WsPublisherThread(WsClient& ws, int seconds) : thread_([this, &ws, seconds] { run(ws, seconds); }) {}
  ~WsPublisherThread() {
    stop_ = true;
    thread_.join();
  }
  size_t sent() const { return sent_; }

 private:
  void run(WsClient& ws, int seconds) {
    const std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 -t " +
                            std::to_string(seconds) + " -c:v mpeg1video -b:v 800k -bf 0 -g 25 -f mpegts pipe:1";
    FILE* ff = popen(cmd.c_str(), "r");
    if (!ff) return;
    uint8_t buf[1316];
    while (!stop_) {
      const size_t n = fread(buf, 1, sizeof buf, ff);
      if (n == 0) break;
      try {
        ws.send_message(buf, n);
      } catch (const std::exception&) {
        break;
      }
      sent_ += n;
    }
    pclose(ff);  // ffmpeg gets SIGPIPE/EOF on its next write if we stopped early
  }
  std::atomic<bool> stop_{false};
  std::atomic<size_t> sent_{0};
  std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(websocket_publisher_reaches_viewers) {
  WsIngestRelay s;
  WsClient pub(s.ingest, "/publish/wscam");
  BOOST_TEST_REQUIRE(pub.connect(), "WebSocket publish handshake: " << pub.error());
  BOOST_TEST(pub.handshake_status() == 101);
  WsPublisherThread sender(pub, 15);
  BOOST_TEST_REQUIRE(s.relay->wait_for_log("publishing stream wscam \\(WebSocket\\)", 5000));

  HttpStreamReader ts_viewer(s.viewer, "/live/wscam.ts");
  ts_viewer.connect();
  double got = collect(ts_viewer, 8000, 3000);
  BOOST_TEST_REQUIRE(got > 0, "no data on /live/wscam.ts: " << ts_viewer.error());
  DecodeResult d = decode_ts(ts_viewer.body());
  BOOST_TEST_MESSAGE("HTTP-TS viewer of a WebSocket publisher: " << d.summary() << " over " << got << " s");
  BOOST_TEST(d.codec == "mpeg1video");
  BOOST_TEST(d.width == 320);
  BOOST_TEST(d.frames_decoded >= 0.9 * 25 * got, "decoded " << d.frames_decoded << " frames in " << got << " s");

  WsClient ws_viewer(s.viewer, "/live/wscam");
  BOOST_TEST_REQUIRE(ws_viewer.connect());
  got = collect(ws_viewer, 8000, 3000);
  BOOST_TEST_REQUIRE(got > 0);
  d = decode_ts(ws_viewer.data());
  BOOST_TEST_MESSAGE("WebSocket viewer of a WebSocket publisher: " << d.summary() << " over " << got << " s");
  BOOST_TEST(d.frames_decoded >= 0.9 * 25 * got, "decoded " << d.frames_decoded << " frames in " << got << " s");

  const HttpResponse api = http_get(s.viewer, "/api/v1/streams/wscam");
  BOOST_TEST_MESSAGE("API: " << api.body);
  // A second publisher is closed with 1008 (policy violation) and the first keeps going.
  WsClient second(s.ingest, "/publish/wscam");
  // The close frame may arrive with the 101 (connect() then reports the close).
  second.connect();
  BOOST_TEST_REQUIRE(second.handshake_status() == 101, "second publisher handshake: " << second.error());
  for (int i = 0; i < 20 && !second.closed_by_server(); ++i) second.read_for(100);
  BOOST_TEST(second.closed_by_server());
  BOOST_TEST(second.close_code() == 1008);
  BOOST_TEST(s.relay->wait_for_log("WebSocket publish to wscam refused: stream already has a publisher", 2000));
  const size_t before = ts_viewer.body().size();
  ts_viewer.read_for(1000);
  BOOST_TEST(ts_viewer.body().size() > before + 50000, "viewer stopped after the refused second publisher");
}

BOOST_AUTO_TEST_CASE(secret_text_messages_and_post_on_the_same_listener) {
  WsIngestRelay s;
  // A stream with a secret: refused at the handshake without it, accepted with it (query or Bearer).
  WsClient no_secret(s.ingest, "/publish/locked");
  BOOST_TEST(!no_secret.connect());
  BOOST_TEST(no_secret.handshake_status() == 403);
  WsClient bad_name(s.ingest, "/publish/bad%20name");
  BOOST_TEST(!bad_name.connect());
  BOOST_TEST(bad_name.handshake_status() == 404);
  {
    WsClient with_secret(s.ingest, "/publish/locked?secret=s3cret");
    BOOST_TEST_REQUIRE(with_secret.connect(), with_secret.error());
    BOOST_TEST(s.relay->wait_for_log("publishing stream locked \\(WebSocket\\)", 3000));
    // Text is not TS: closed with 1003.
    const std::string text = "hello";
    with_secret.send_message(reinterpret_cast<const uint8_t*>(text.data()), text.size(), true);
    for (int i = 0; i < 20 && !with_secret.closed_by_server(); ++i) with_secret.read_for(100);
    BOOST_TEST(with_secret.close_code() == 1003);
  }
  // A WebSocket publisher that goes silent is dropped after publisher_timeout_s (3 s).
  WsClient silent(s.ingest, "/publish/quiet");
  BOOST_TEST_REQUIRE(silent.connect());
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(s.relay->wait_for_log("stream quiet: publisher silent for 3s; dropped", 6000));
  const double dropped_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST(dropped_after >= 2.5);

  // HTTP POST publishing on the same listener is unaffected by the WebSocket route.
  Process ffmpeg("ffmpeg-post", {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-re", "-f", "lavfi", "-i",
                                 "testsrc2=size=320x240:rate=25", "-t", "8", "-c:v", "mpeg1video", "-b:v", "800k", "-bf", "0",
                                 "-g", "25", "-f", "mpegts", "http://127.0.0.1:" + std::to_string(s.ingest) + "/publish/postcam"});
  BOOST_TEST_REQUIRE(s.relay->wait_for_log("publishing stream postcam \\(chunked body\\)", 8000));
  HttpStreamReader viewer(s.viewer, "/live/postcam.ts");
  viewer.connect();
  const double got = collect(viewer, 8000, 2500);
  BOOST_TEST_REQUIRE(got > 0);
  const DecodeResult d = decode_ts(viewer.body());
  BOOST_TEST(d.frames_decoded >= 0.9 * 25 * got, "decoded " << d.frames_decoded << " frames in " << got << " s");
}
