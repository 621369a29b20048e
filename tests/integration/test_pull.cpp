// Pull links (issue 10): an edge relay fetches a stream from its upstream only while somebody
// watches it, fails over between upstreams, chains through a mid relay, and refuses pull loops.
// Real relays and capture agents on loopback; viewers' streams are decoded with libav*.
#define BOOST_TEST_MODULE test_pull
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "collect.h"
#include "free_port.h"
#include "http_get.h"
#include "decode_ts.h"
#include "http_stream_reader.h"
#include "relay_process.h"
#include "tcp_socket.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string base_url(const RelayProcess& r) { return "http://127.0.0.1:" + std::to_string(r.viewer_port()); }

std::string ingest_url(const RelayProcess& r, const std::string& stream) {
  return "http://127.0.0.1:" + std::to_string(r.ingest_port()) + "/publish/" + stream;
}

/// Viewers of `stream` on `relay` as its API reports them (-1 when the stream is unknown).
int viewers(const RelayProcess& relay, const std::string& stream) {
  const nlohmann::json s = relay.stream(stream);
  return s.is_object() ? s.value("viewers", -1) : -1;
}

/// Polls until `pred()` holds or `timeout_ms` passes; returns whether it held.
template <class Pred>
bool eventually(Pred pred, int timeout_ms) {
  const auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

void expect_decodes(const std::vector<uint8_t>& bytes, double secs, const std::string& what) {
  const DecodeResult r = decode_ts(bytes);
  BOOST_TEST_MESSAGE(what << ": " << bytes.size() << " bytes in " << secs << " s; " << r.summary());
  BOOST_TEST(r.opened, what << ": no video: " << r.error_text);
  BOOST_TEST(r.frames_decoded >= 0.9 * 25 * secs, what << ": " << r.frames_decoded << " frames in " << secs << " s");
  BOOST_TEST(r.errors == 0, what << ": " << r.error_text);
}

std::string pull_rule(const std::string& streams, const std::vector<std::string>& upstreams, int idle_s = 2,
                      int start_s = 3) {
  std::string list;
  for (const std::string& u : upstreams) list += (list.empty() ? "\"" : ", \"") + u + "\"";
  return "pull = ( { streams = \"" + streams + "\"; upstreams = [ " + list + " ]; idle_timeout_s = " +
         std::to_string(idle_s) + "; start_timeout_s = " + std::to_string(start_s) + "; } );\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(pull_on_demand_starts_with_the_first_viewer_and_stops_after_the_last) {
  RelayProcess origin("node_id = \"origin\";\n", "pull-origin");
  auto capture = start_capture(ingest_url(origin, "cam1"));
  origin.wait_live("cam1");
  RelayProcess edge("node_id = \"edge\";\n" + pull_rule("cam*", {base_url(origin)}), "pull-edge");
  BOOST_TEST(viewers(origin, "cam1") == 0);

  {
    WsClient ws(edge.viewer_port(), "/live/cam1");
    const auto t0 = Clock::now();
    BOOST_TEST_REQUIRE(ws.connect(), ws.error());
    const double secs = collect(ws, 5000, 3000);
    BOOST_TEST_REQUIRE(secs > 0, "no data at the edge");
    BOOST_TEST_MESSAGE("first byte at the edge after " << std::chrono::duration<double>(*ws.first_byte_time() - t0).count() * 1000
                                                       << " ms (nothing pulled before)");
    BOOST_TEST(viewers(origin, "cam1") == 1, "the origin does not count the edge's pull as its viewer");
    expect_decodes(ws.data(), secs, "edge viewer");
    const nlohmann::json edge_cam = edge.stream("cam1");
    BOOST_TEST(edge_cam.value("publisher_kind", std::string()) == "pull");
    BOOST_TEST(edge_cam["via"].dump() == "[\"origin\"]");
    const nlohmann::json pulls = edge.api("/api/v1/node")["pull"];
    BOOST_TEST_REQUIRE(pulls.size() == 1u);
    BOOST_TEST(pulls[0].value("state", std::string()) == "receiving");
    BOOST_TEST(pulls[0].value("bytes_in", 0.0) > 100000);
  }
  // The last viewer left: the pull stops idle_timeout_s (2 s) later.
  const auto left = Clock::now();
  BOOST_TEST(eventually([&] { return viewers(origin, "cam1") == 0; }, 6000), "the edge kept pulling");
  BOOST_TEST_MESSAGE("pull stopped " << secs_since(left) << " s after the last viewer left");
  BOOST_TEST(secs_since(left) >= 1.5);
  // A new viewer restarts it.
  WsClient again(edge.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(again.connect());
  BOOST_TEST(collect(again, 5000, 1000) > 0, "a new viewer did not restart the pull");
}

BOOST_AUTO_TEST_CASE(a_stream_no_upstream_has_gives_404_and_4404_after_start_timeout) {
  RelayProcess origin("node_id = \"origin\";\n", "pull404-origin");
  RelayProcess edge("node_id = \"edge\";\n" + pull_rule("*", {base_url(origin)}, 2, 3), "pull404-edge");
  HttpStreamReader ts(edge.viewer_port(), "/live/nothere.ts");
  const auto t0 = Clock::now();
  ts.connect();
  while (ts.status() == 0 && !ts.ended() && secs_since(t0) < 8) ts.read_for(100);
  BOOST_TEST(ts.status() == 404);
  BOOST_TEST_MESSAGE("HTTP-TS 404 after " << secs_since(t0) << " s");
  BOOST_TEST(secs_since(t0) >= 2.5);
  BOOST_TEST(secs_since(t0) < 6.0);
  WsClient ws(edge.viewer_port(), "/live/nothere");
  BOOST_TEST_REQUIRE(ws.connect());
  for (int i = 0; i < 80 && !ws.closed_by_server(); ++i) ws.read_for(100);
  BOOST_TEST(ws.close_code() == 4404);
  BOOST_TEST(edge.proc().wait_for_log("pull nothere: no upstream delivered the stream within 3s", 1000));
}

BOOST_AUTO_TEST_CASE(failover_to_the_second_upstream_keeps_the_viewer_connected) {
  RelayProcess a("node_id = \"origin-a\";\n", "failover-a");
  RelayProcess b("node_id = \"origin-b\";\n", "failover-b");
  auto cap_a = start_capture(ingest_url(a, "cam1"), "capture-a");
  auto cap_b = start_capture(ingest_url(b, "cam1"), "capture-b");
  a.wait_live("cam1");
  b.wait_live("cam1");
  RelayProcess edge("node_id = \"edge\";\n" + pull_rule("cam1", {base_url(a), base_url(b)}, 5, 5), "failover-edge");
  WsClient ws(edge.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect());
  BOOST_TEST_REQUIRE(collect(ws, 5000, 2000) > 0);
  BOOST_TEST(viewers(a, "cam1") == 1);
  BOOST_TEST(viewers(b, "cam1") == 0);

  const size_t before = ws.data().size();
  const auto killed = Clock::now();
  a.proc().kill_hard();
  double resumed_s = -1;
  while (secs_since(killed) < 6) {
    BOOST_TEST_REQUIRE(ws.read_for(100), "the edge viewer lost its connection: " << ws.error());
    if (ws.data().size() > before + 50000) {
      resumed_s = secs_since(killed);
      break;
    }
  }
  BOOST_TEST_MESSAGE("data again " << resumed_s << " s after the first upstream died");
  BOOST_TEST(resumed_s >= 0, "no data after the failover");
  BOOST_TEST(resumed_s < 3.0);
  const size_t mark = ws.data().size();
  const auto t1 = Clock::now();
  while (secs_since(t1) < 3) BOOST_TEST_REQUIRE(ws.read_for(100));
  const double read_s = secs_since(t1);
  // Cut mid-stream: the decoder skips to the first keyframe of the slice (at most one GOP, 1 s).
  const std::vector<uint8_t> after(ws.data().begin() + static_cast<long>(mark), ws.data().end());
  const DecodeResult r = decode_ts(after);
  BOOST_TEST(r.frames_decoded >= 0.8 * 25 * (read_s - 1.0), "after failover: " << r.summary());
  BOOST_TEST(viewers(b, "cam1") == 1, "the second upstream does not serve the edge");
  const nlohmann::json pulls = edge.api("/api/v1/node")["pull"];
  BOOST_TEST_REQUIRE(pulls.size() == 1u);
  BOOST_TEST(pulls[0].value("failovers", 0) >= 1);
}

BOOST_AUTO_TEST_CASE(chain_of_two_on_demand_pulls) {
  RelayProcess origin("node_id = \"origin\";\n", "chain-origin");
  auto capture = start_capture(ingest_url(origin, "cam1"));
  origin.wait_live("cam1");
  RelayProcess mid("node_id = \"mid\";\n" + pull_rule("*", {base_url(origin)}), "chain-mid");
  RelayProcess edge("node_id = \"edge\";\n" + pull_rule("*", {base_url(mid)}), "chain-edge");
  WsClient ws(edge.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect());
  const double secs = collect(ws, 6000, 3000);
  BOOST_TEST_REQUIRE(secs > 0);
  expect_decodes(ws.data(), secs, "viewer two pulls from the origin");
  BOOST_TEST(viewers(origin, "cam1") == 1);
  BOOST_TEST(viewers(mid, "cam1") == 1);
  BOOST_TEST(edge.stream("cam1")["via"].dump() == "[\"origin\",\"mid\"]");
}

BOOST_AUTO_TEST_CASE(a_pull_loop_is_refused_with_508_and_carries_nothing) {
  // A pulls unknown streams from B, B from A: a viewer at A asking for "ghost" makes A pull from B
  // (via A), B pull from A (via A,B), and A refuses that request with 508. Nothing circulates.
  const uint16_t a_port = free_port(), b_port = free_port();
  const std::string a_url = "http://127.0.0.1:" + std::to_string(a_port);
  const std::string b_url = "http://127.0.0.1:" + std::to_string(b_port);
  RelayProcess a("node_id = \"relay-a\";\n" + pull_rule("*", {b_url}, 2, 4), "loop-a", a_port);
  RelayProcess b("node_id = \"relay-b\";\n" + pull_rule("*", {a_url}, 2, 4), "loop-b", b_port);
  WsClient ws(a.viewer_port(), "/live/ghost");
  BOOST_TEST_REQUIRE(ws.connect());
  for (int i = 0; i < 80 && !ws.closed_by_server(); ++i) ws.read_for(100);
  BOOST_TEST(ws.close_code() == 4404, "the viewer of a stream nobody has was not sent away");
  BOOST_TEST(ws.data().empty());
  BOOST_TEST(b.proc().wait_for_log("pull ghost from " + a_url + ": refused by the upstream: 508", 1000));
  BOOST_TEST(a.proc().wait_for_log("refused: 508 cascade loop", 1000));
  // No amplification: each relay saw a handful of requests, not a storm.
  const int a_viewers = a.api("/api/v1/node").value("viewer_connections", 0);
  const int b_viewers = b.api("/api/v1/node").value("viewer_connections", 0);
  BOOST_TEST_MESSAGE("viewer connections: A " << a_viewers << ", B " << b_viewers);
  BOOST_TEST(a_viewers <= 3);
  BOOST_TEST(b_viewers <= 3);
  BOOST_TEST(count_lines(b.proc().log_text(), "<4>pull ghost from .*refused by the upstream: 508") == 1,
             "B logged the refused pull more than once per change");
}

BOOST_AUTO_TEST_CASE(topology_2_instances_share_the_viewer_port_and_pull_from_the_origin) {
  RelayProcess origin("node_id = \"origin\";\n", "t2-origin");
  auto capture = start_capture(ingest_url(origin, "cam1"));
  origin.wait_live("cam1");
  const uint16_t shared = free_port();
  std::vector<std::unique_ptr<RelayProcess>> instances;
  std::vector<uint16_t> api_ports;
  for (int i = 1; i <= 3; ++i) {
    api_ports.push_back(free_port());
    instances.push_back(std::make_unique<RelayProcess>(
        "node_id = \"instance" + std::to_string(i) + "\";\nreuse_port = true;\napi_listen = \"127.0.0.1:" +
            std::to_string(api_ports.back()) + "\";\n" + pull_rule("*", {base_url(origin)}, 5),
        "t2-instance" + std::to_string(i), shared));
  }
  std::vector<std::unique_ptr<WsClient>> viewers_ws;
  for (int i = 0; i < 30; ++i) {
    viewers_ws.push_back(std::make_unique<WsClient>(shared, "/live/cam1"));
    BOOST_TEST_REQUIRE(viewers_ws.back()->connect(), "viewer " << i << ": " << viewers_ws.back()->error());
  }
  // Read all viewers round-robin for 3 s.
  const auto t0 = Clock::now();
  while (secs_since(t0) < 3.5) {
    for (auto& v : viewers_ws) BOOST_TEST_REQUIRE(v->read_for(5), v->error());
  }
  // Each instance's own API listener (the shared viewer port reaches any of them).
  int with_viewers = 0, total = 0;
  for (size_t i = 0; i < instances.size(); ++i) {
    const HttpResponse r = http_get(api_ports[i], "/api/v1/streams/cam1", 3000);
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    const int n = j.is_object() ? j.value("viewers", 0) : 0;
    BOOST_TEST_MESSAGE("instance" << i + 1 << ": " << n << " viewers");
    with_viewers += n > 0;
    total += n;
  }
  BOOST_TEST(http_get(api_ports[0], "/player.html", 3000).status == 404, "the API listener serves pages");
  BOOST_TEST(total == 30);
  BOOST_TEST(with_viewers == 3, "the kernel did not spread the viewers over the three instances");
  BOOST_TEST(viewers(origin, "cam1") == 3, "each instance should pull once from the origin");
  for (size_t i = 0; i < viewers_ws.size(); ++i) {
    const DecodeResult r = decode_ts(viewers_ws[i]->data());
    BOOST_TEST(r.frames_decoded >= 0.8 * 25 * 2.5, "viewer " << i << ": " << r.summary());
    BOOST_TEST(r.errors == 0, "viewer " << i << ": " << r.error_text);
  }
}
