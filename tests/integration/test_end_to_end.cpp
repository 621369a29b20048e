// End to end: mpegcast-capture (lavfi testsrc2 640x480 at 25 fps) → mpegcast-relay → viewers on
// WebSocket and HTTP-TS, checked by demuxing and decoding what a viewer received.
#define BOOST_TEST_MODULE test_end_to_end
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "collect.h"
#include "decode_ts.h"
#include "http_get.h"
#include "http_stream_reader.h"
#include "relay_stack.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

constexpr double kFps = 25.0;
constexpr int kWidth = 640, kHeight = 480;

/// First TS packet's PID, or -1.
int first_pid(const std::vector<uint8_t>& ts) {
  if (ts.size() < 188 || ts[0] != 0x47) return -1;
  return ((ts[1] & 0x1F) << 8) | ts[2];
}

/// The checks of issue items 1, 3 and 4 on `bytes` received over `secs` seconds.
void expect_decodes_at_rate(const std::vector<uint8_t>& bytes, double secs, const std::string& what) {
  BOOST_TEST_REQUIRE(secs >= 3.0, what << ": received only " << secs << " s of stream (" << bytes.size() << " bytes)");
  BOOST_TEST(bytes.size() % 188 == 0, what << ": " << bytes.size() << " bytes is not whole TS packets");
  auto r = decode_ts(bytes);
  const double expected = kFps * secs;
  BOOST_TEST_MESSAGE(what << ": " << bytes.size() << " bytes in " << secs << " s; " << r.summary());
  BOOST_TEST(r.opened, what << ": mpegts demuxer found no video stream: " << r.error_text);
  BOOST_TEST(r.codec == "mpeg1video", what << ": codec is '" << r.codec << "'");
  BOOST_TEST(r.width == kWidth, what << ": width " << r.width);
  BOOST_TEST(r.height == kHeight, what << ": height " << r.height);
  BOOST_TEST(r.frames_decoded >= 0.9 * expected, what << ": decoded " << r.frames_decoded << " frames, expected >= 90 % of "
                                                       << expected << " (25 fps x " << secs << " s)");
  BOOST_TEST(r.errors == 0, what << ": " << r.errors << " decode errors: " << r.error_text);
}

/// One read_for(`ms`) of each viewer; REQUIREs that neither stream failed.
void read_both(WsClient& ws, HttpStreamReader& rd, int ms) {
  BOOST_TEST_REQUIRE(ws.read_for(ms), "WebSocket viewer: " << ws.error());
  BOOST_TEST_REQUIRE(rd.read_for(ms), "HTTP-TS viewer: " << rd.error());
}

/// expect_decodes_at_rate for both viewers, each over its first byte → `end`; `what` ends the labels.
void expect_both_decode(const WsClient& ws, const HttpStreamReader& rd, Clock::time_point end, const std::string& what) {
  BOOST_TEST_REQUIRE(ws.first_byte_time().has_value());
  BOOST_TEST_REQUIRE(rd.first_byte_time().has_value());
  expect_decodes_at_rate(ws.data(), std::chrono::duration<double>(end - *ws.first_byte_time()).count(),
                         "WebSocket viewer " + what);
  expect_decodes_at_rate(rd.body(), std::chrono::duration<double>(end - *rd.first_byte_time()).count(),
                         "HTTP-TS viewer " + what);
}

}  // namespace

BOOST_AUTO_TEST_CASE(websocket_viewer_decodes_90_percent_of_frames) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  s.wait_live();
  BOOST_TEST(s.relay()->wait_for_log("event loop: libev \\(epoll\\)", 1000), "the relay does not run on the libev (epoll) loop");
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), "WebSocket handshake: " << ws.error());
  double secs = collect(ws, 8000, 3500);
  BOOST_TEST_MESSAGE("ws: " << ws.message_count() << " binary messages, error='" << ws.error() << "'");
  BOOST_TEST(ws.error().empty(), "WebSocket viewer: " << ws.error());
  size_t partial = 0;
  for (size_t n : ws.message_sizes()) partial += n % 188 != 0;
  BOOST_TEST(partial == 0u, partial << " of " << ws.message_count() << " binary messages are not whole TS packets");
  expect_decodes_at_rate(ws.data(), secs, "WebSocket viewer");
}

BOOST_AUTO_TEST_CASE(viewers_on_the_poll_loop_decode_90_percent_of_frames) {
  // event_loop = "poll": libwebsockets' own loop, the fallback when libev is unavailable.
  std::ifstream in(MPEGCAST_SOURCE_DIR "/conf/relay.conf");
  std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string epoll_line = "event_loop = \"epoll\";";
  BOOST_TEST_REQUIRE(conf.find(epoll_line) != std::string::npos, "conf/relay.conf has no line " << epoll_line);
  conf.replace(conf.find(epoll_line), epoll_line.size(), "event_loop = \"poll\";");
  const std::string path = std::string(MPEGCAST_BINARY_DIR) + "/relay-poll-loop.conf";
  std::ofstream(path) << conf;
  RelayStack s;
  s.set_relay_config(path);
  s.start_relay();
  BOOST_TEST(s.relay()->wait_for_log("event loop: libwebsockets poll\\(\\)", 1000), "the relay does not run on lws's poll loop");
  s.start_capture();
  s.wait_live();
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), "WebSocket handshake: " << ws.error());
  HttpStreamReader rd(s.viewer_port(), "/live/cam1.ts");
  rd.connect();
  const auto start = Clock::now();
  while (Clock::now() - start < 4s) read_both(ws, rd, 50);
  expect_both_decode(ws, rd, Clock::now(), "on the poll loop");
}

BOOST_AUTO_TEST_CASE(viewer_joining_mid_gop_decodes_its_first_packet) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  s.wait_live();
  const auto live = Clock::now();
  // GOP is 1 s from the stream's start: joins at x.5 s land in the middle of a GOP.
  for (double join_s : {1.5, 2.5}) {
    std::this_thread::sleep_until(live + std::chrono::milliseconds(static_cast<int>(join_s * 1000)));
    WsClient ws(s.viewer_port(), "/live/cam1");
    BOOST_TEST_REQUIRE(ws.connect(), "join at " << join_s << " s: handshake: " << ws.error());
    double secs = collect(ws, 3000, 700);
    BOOST_TEST_REQUIRE(secs > 0, "join at " << join_s << " s: no data within 3 s");
    const double wait_ms = std::chrono::duration<double, std::milli>(*ws.first_byte_time() - ws.connect_time()).count();
    auto r = decode_ts(ws.data());
    BOOST_TEST_MESSAGE("join at " << join_s << " s: first byte after " << wait_ms << " ms, " << ws.data().size()
                                  << " bytes; " << r.summary());
    BOOST_TEST(first_pid(ws.data()) == 0, "join at " << join_s << " s: first TS packet has PID " << first_pid(ws.data())
                                                     << ", expected the PAT (PID 0)");
    BOOST_TEST(r.first_frame_packet_index == 0,
               "join at " << join_s << " s: first decoded picture came from video packet #" << r.first_frame_packet_index
                          << " (0 = the first one received; > 0 means pictures before a keyframe were sent and wasted)");
    BOOST_TEST(r.frames_decoded >= 1, "join at " << join_s << " s: decoded " << r.frames_decoded << " frames");
    BOOST_TEST(wait_ms < 1000.0, "join at " << join_s << " s: first byte took " << wait_ms
                                            << " ms on a live stream (GOP cache should answer at once)");
    BOOST_TEST(r.width == kWidth);
  }
}

BOOST_AUTO_TEST_CASE(http_ts_viewer_decodes_90_percent_of_frames) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  s.wait_live();
  HttpStreamReader rd(s.viewer_port(), "/live/cam1.ts");
  rd.connect();
  double secs = collect(rd, 8000, 3500);
  BOOST_TEST_MESSAGE("http-ts: status " << rd.status() << ", error='" << rd.error() << "', ended=" << rd.ended());
  BOOST_TEST(rd.status() == 200, "GET /live/cam1.ts: status " << rd.status());
  auto ct = rd.headers().count("content-type") ? rd.headers().at("content-type") : std::string("(none)");
  BOOST_TEST(ct.find("video/mp2t") == 0, "GET /live/cam1.ts: Content-Type is " << ct);
  BOOST_TEST(!rd.ended(), "the relay ended the HTTP-TS body after " << secs << " s");
  BOOST_TEST(rd.error().empty(), "HTTP-TS viewer: " << rd.error());
  expect_decodes_at_rate(rd.body(), secs, "HTTP-TS viewer");
  BOOST_TEST(decode_ts(rd.body()).first_frame_packet_index == 0, "HTTP-TS viewer's first video packet is decodable");
}

BOOST_AUTO_TEST_CASE(viewers_reading_in_bursts_get_intact_streams) {
  // Viewers with a 4 KiB receive buffer that read for 100 ms, then pause for 1.1 s: their sockets
  // fill, so the relay's sends to them are partial and the rest of each frame must follow before
  // anything else. The WebSocket viewer also pings before each pause, so lws has a pong to send
  // while the rest of a frame waits. Pauses stay under max_lag_ms (2 s), so nothing is skipped and
  // the whole stream must arrive and decode.
  RelayStack s;
  s.start_relay();
  s.start_capture();
  s.wait_live();
  WsClient ws(s.viewer_port(), "/live/cam1");
  ws.set_receive_buffer(4096);
  BOOST_TEST_REQUIRE(ws.connect(), "WebSocket handshake: " << ws.error());
  HttpStreamReader rd(s.viewer_port(), "/live/cam1.ts");
  rd.set_receive_buffer(4096);
  rd.connect();
  const auto start = Clock::now();
  size_t pings = 0;
  while (Clock::now() - start < 8s) {
    read_both(ws, rd, 100);
    ws.send_ping("p" + std::to_string(pings++));
    std::this_thread::sleep_for(1000ms);
  }
  // Drain what the relay still holds for them.
  for (int i = 0; i < 15; ++i) read_both(ws, rd, 50);
  const auto end = Clock::now();
  auto node = nlohmann::json::parse(http_get(s.viewer_port(), "/api/v1/node", 2000).body, nullptr, false);
  const double partial_writes = node.is_object() && node["viewer_partial_writes"].is_number()
                                    ? node["viewer_partial_writes"].get<double>() : -1;
  BOOST_TEST_MESSAGE("partial writes: " << partial_writes << "; ws " << ws.message_count() << " messages, "
                                        << ws.data().size() << " bytes; http-ts " << rd.body().size() << " bytes");
  BOOST_TEST(ws.pongs_received() == pings, "WebSocket viewer: " << ws.pongs_received() << " pongs for " << pings << " pings");
  BOOST_TEST(partial_writes > 0, "/api/v1/node viewer_partial_writes is " << partial_writes
                                     << ": the viewers' sockets never filled, so this test checked nothing");
  size_t not_whole = 0;
  for (size_t n : ws.message_sizes()) not_whole += n % 188 != 0;
  BOOST_TEST(not_whole == 0u, not_whole << " of " << ws.message_count() << " binary messages are not whole TS packets");
  size_t unsynced = 0;
  for (const auto* bytes : {&ws.data(), &rd.body()})
    for (size_t i = 0; i + 188 <= bytes->size(); i += 188) unsynced += (*bytes)[i] != 0x47;
  BOOST_TEST(unsynced == 0u, unsynced << " TS packets do not start with the sync byte 0x47");
  expect_both_decode(ws, rd, end, "reading in bursts");
}

BOOST_AUTO_TEST_CASE(websocket_null_subprotocol_is_accepted) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  s.wait_live();
  WsClient ws(s.viewer_port(), "/live/cam1", "null");
  BOOST_TEST_REQUIRE(ws.connect(), "handshake with Sec-WebSocket-Protocol: null: " << ws.error());
  const auto& h = ws.handshake_headers();
  BOOST_TEST_MESSAGE("server's Sec-WebSocket-Protocol: "
                     << (h.count("sec-websocket-protocol") ? h.at("sec-websocket-protocol") : "(none)"));
  double secs = collect(ws, 8000, 3200);
  BOOST_TEST(ws.error().empty(), "WebSocket viewer with subprotocol null: " << ws.error());
  BOOST_TEST(ws.message_count() > 0, "binary messages received: " << ws.message_count());
  expect_decodes_at_rate(ws.data(), secs, "WebSocket viewer (subprotocol null)");
}

BOOST_AUTO_TEST_CASE(api_lists_stream_with_publisher_bytes_and_viewers) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  s.wait_live();
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), ws.error());
  HttpStreamReader rd(s.viewer_port(), "/live/cam1.ts");
  rd.connect();
  collect(ws, 5000, 300);
  collect(rd, 5000, 300);
  BOOST_TEST_REQUIRE(ws.first_byte_time().has_value(), "WebSocket viewer got no data");
  BOOST_TEST_REQUIRE(rd.first_byte_time().has_value(), "HTTP-TS viewer got no data");

  std::string err;
  auto j = s.api_streams(&err);
  BOOST_TEST_REQUIRE(!j.empty(), err);
  BOOST_TEST_MESSAGE("GET /api/v1/streams with 2 viewers: " << j.dump());
  auto cam1 = RelayStack::find_stream(j, "cam1");
  BOOST_TEST_REQUIRE(cam1.is_object(), "cam1 not in " << j.dump());
  for (const char* key : {"name", "publisher", "connected_since", "bytes_in", "bitrate_in_bps", "viewers"})
    BOOST_TEST(cam1.contains(key), "cam1 lacks '" << key << "': " << cam1.dump());
  const auto& pub = cam1["publisher"];
  BOOST_TEST((!pub.is_null() && !(pub.is_string() && pub.get<std::string>().empty()) && pub != false),
             "cam1 has a publisher: " << pub.dump());
  BOOST_TEST((cam1["bytes_in"].is_number() && cam1["bytes_in"].get<double>() > 0), "bytes_in: " << cam1["bytes_in"].dump());
  BOOST_TEST((cam1["viewers"].is_number() && cam1["viewers"].get<int>() == 2),
             "viewers: " << cam1["viewers"].dump() << " with 1 WebSocket + 1 HTTP-TS viewer connected");

  // One viewer leaves: the count follows (allow the relay a moment to notice the close).
  ws.close();
  int viewers = -1;
  for (int i = 0; i < 30 && viewers != 1; ++i) {
    rd.read_for(100);
    auto c = RelayStack::find_stream(s.api_streams(), "cam1");
    viewers = c.is_object() && c["viewers"].is_number() ? c["viewers"].get<int>() : -1;
  }
  BOOST_TEST(viewers == 1, "viewers after the WebSocket viewer closed: " << viewers);
  rd.close();
  for (int i = 0; i < 30 && viewers != 0; ++i) {
    std::this_thread::sleep_for(100ms);
    auto c = RelayStack::find_stream(s.api_streams(), "cam1");
    viewers = c.is_object() && c["viewers"].is_number() ? c["viewers"].get<int>() : -1;
  }
  BOOST_TEST(viewers == 0, "viewers after both viewers closed: " << viewers);
}

BOOST_AUTO_TEST_CASE(capture_reconnects_after_relay_is_killed) {
  RelayStack s;
  s.start_relay("relay-1");
  s.start_capture();
  s.wait_live();
  {
    WsClient ws(s.viewer_port(), "/live/cam1");
    BOOST_TEST_REQUIRE(ws.connect(), ws.error());
    collect(ws, 5000, 1000);
    auto r = decode_ts(ws.data());
    BOOST_TEST_REQUIRE(r.frames_decoded > 0, "before the restart: " << r.summary());
  }
  const pid_t capture_pid = s.capture()->pid();
  const int st = s.relay()->kill_hard();
  BOOST_TEST_MESSAGE("relay killed (status " << st << ")");
  std::this_thread::sleep_for(500ms);
  BOOST_TEST_REQUIRE(s.capture()->running(), "capture agent exited when the relay went away, status "
                                                 << s.capture()->exit_status());
  const auto restart = Clock::now();
  s.start_relay("relay-2");

  // A new viewer connects at once and waits; the agent must come back by itself within ~10 s.
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), "after the restart: " << ws.error());
  double secs = collect(ws, 10000, 2000);
  BOOST_TEST_REQUIRE(secs > 0, "no data on a new viewer within 10 s of the relay restart");
  const double back_s = std::chrono::duration<double>(*ws.first_byte_time() - restart).count();
  auto r = decode_ts(ws.data());
  BOOST_TEST_MESSAGE("after the restart: data " << back_s << " s after the relay started; " << r.summary());
  BOOST_TEST(r.frames_decoded >= 0.9 * kFps * secs, "decoded " << r.frames_decoded << " frames in " << secs << " s");
  BOOST_TEST(r.first_frame_packet_index == 0, "first video packet after the restart decodes");
  BOOST_TEST(r.width == kWidth);
  BOOST_TEST(r.height == kHeight);
  BOOST_TEST(s.capture()->running(), "capture agent still running");
  BOOST_TEST(s.capture()->pid() == capture_pid, "the same capture agent process (not restarted)");
}

BOOST_AUTO_TEST_CASE(viewer_connected_before_publisher_gets_the_stream) {
  RelayStack s;
  s.start_relay();
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), "viewer of a stream not yet published: " << ws.error());
  BOOST_TEST(ws.read_for(300), "the relay keeps a waiting viewer open: " << ws.error());
  s.start_capture();
  double secs = collect(ws, 8000, 1500);
  BOOST_TEST_REQUIRE(secs > 0, "the waiting viewer got no data within 8 s of the capture start: " << ws.error());
  auto r = decode_ts(ws.data());
  BOOST_TEST_MESSAGE("waiting viewer: " << r.summary());
  BOOST_TEST(r.first_frame_packet_index == 0);
  BOOST_TEST(r.frames_decoded >= 0.9 * kFps * secs - 2, "decoded " << r.frames_decoded << " frames in " << secs << " s");
}
