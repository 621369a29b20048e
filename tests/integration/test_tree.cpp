// Topology 5 on loopback: a tree of seven relays fed by one capture agent, every level with a viewer.
//
//   capture ─▶ origin ─http push─▶ mid1 ─http push─▶ edge1
//                 │                  ▲
//                 │                  └─pull on demand (HTTP-TS)─ edge3 ◀─pull on demand (WebSocket)─ edge4
//                 └─ws push───▶ mid2 ─tcp push──▶ edge2
//
// Measured: every viewer decodes ≥ 90 % of 25 fps; mid1 killed (SIGKILL) → the viewers of edge1,
// edge3 and edge4 stay connected while edge2's keeps decoding; mid1 restarted on the same ports →
// pictures again at edge1/3/4 within 3 s; the capture agent killed and started again → every
// level's viewer decodes again. Times are printed.
#define BOOST_TEST_MODULE test_tree
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <thread>

#include <unistd.h>

#include "collect.h"
#include "decode_ts.h"
#include "free_port.h"
#include "relay_process.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

constexpr double kFps = 25;

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string ingest_url(const RelayProcess& r, const std::string& scheme = "http") {
  return scheme + "://127.0.0.1:" + std::to_string(r.ingest_port()) + "/publish/cam1";
}

std::string viewer_url(const RelayProcess& r, const std::string& scheme = "http") {
  return scheme + "://127.0.0.1:" + std::to_string(r.viewer_port());
}

std::string push_to(const std::vector<std::string>& urls) {
  std::string list;
  for (const std::string& u : urls) list += std::string(list.empty() ? "" : ", ") + "{ stream = \"cam1\"; url = \"" + u + "\"; }";
  return "push = ( " + list + " );\n";
}

std::string pull_from(const std::string& upstream) {
  return "pull = ( { streams = \"*\"; upstreams = [ \"" + upstream +
         "\" ]; on_demand = true; idle_timeout_s = 10; start_timeout_s = 5; } );\n";
}

/// One WebSocket viewer of cam1 on one relay of the tree.
struct Viewer {
  std::string name;
  std::unique_ptr<WsClient> ws;
  size_t mark = 0;  // data().size() at the start of the current phase

  Viewer(std::string n, const RelayProcess& relay)
      : name(std::move(n)), ws(std::make_unique<WsClient>(relay.viewer_port(), "/live/cam1")) {
    BOOST_TEST_REQUIRE(ws->connect(), name << ": " << ws->error());
  }
  DecodeResult since_mark() const {
    return decode_ts(std::vector<uint8_t>(ws->data().begin() + static_cast<long>(mark), ws->data().end()));
  }
};

using Viewers = std::vector<Viewer*>;

/// Reads every viewer in turn for `ms`; each must stay connected.
void read_all(const Viewers& vs, int ms) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    for (Viewer* v : vs) BOOST_TEST_REQUIRE(v->ws->read_for(5), v->name << " lost its connection: " << v->ws->error());
  }
}

void set_marks(const Viewers& vs) {
  for (Viewer* v : vs) v->mark = v->ws->data().size();
}

/// Reads all of `vs` until each of `waiting` decoded a picture from data after its mark, or
/// `timeout_s` passed. Returns the seconds from `t0` per viewer name (absent: never).
std::map<std::string, double> time_to_pictures(const Viewers& vs, const Viewers& waiting, Clock::time_point t0,
                                               double timeout_s) {
  std::map<std::string, double> got;
  while (got.size() < waiting.size() && secs_since(t0) < timeout_s) {
    read_all(vs, 50);
    for (Viewer* v : waiting) {
      if (got.count(v->name) || v->ws->data().size() < v->mark + 188 * 50) continue;
      if (v->since_mark().frames_decoded > 0) got[v->name] = secs_since(t0);
    }
  }
  return got;
}

/// Asserts that each viewer decoded ≥ `share` of 25 fps from its mark on, without errors. A slice
/// cut mid-stream decodes from its first keyframe (at most one GOP, 25 frames, in): the frames
/// before it are not expected.
void expect_rate_since_mark(const Viewers& vs, double secs, double share, const std::string& phase) {
  for (Viewer* v : vs) {
    const DecodeResult r = v->since_mark();
    const int lead = std::max(0, r.first_frame_packet_index);
    BOOST_TEST_MESSAGE(phase << ", " << v->name << ": " << r.frames_decoded << " frames in " << secs << " s ("
                             << lead << " before the first keyframe); " << r.summary());
    BOOST_TEST(r.opened, phase << ", " << v->name << ": " << r.error_text);
    BOOST_TEST(lead <= 25, phase << ", " << v->name << ": first picture " << lead << " frames into the slice");
    BOOST_TEST(r.frames_decoded >= share * (kFps * secs - lead),
               phase << ", " << v->name << ": " << r.frames_decoded << " frames in " << secs << " s");
    BOOST_TEST(r.errors == 0, phase << ", " << v->name << ": " << r.error_text);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(tree_of_push_and_pull_links_survives_a_mid_relay_and_capture_restart) {
  // Built from the leaves up, so every push target and upstream exists when its link starts.
  const uint16_t edge2_tcp = free_port();
  RelayProcess edge1("node_id = \"edge1\";\n", "tree-edge1");
  RelayProcess edge2("node_id = \"edge2\";\ningest = { tcp = ( { listen = \"127.0.0.1:" + std::to_string(edge2_tcp) +
                         "\"; stream = \"cam1\"; allow = [ \"127.0.0.0/8\" ]; } ); };\n",
                     "tree-edge2");
  const std::string mid1_conf = "node_id = \"mid1\";\n" + push_to({ingest_url(edge1)});
  auto mid1 = std::make_unique<RelayProcess>(mid1_conf, "tree-mid1");
  RelayProcess mid2("node_id = \"mid2\";\n" + push_to({"tcp://127.0.0.1:" + std::to_string(edge2_tcp)}), "tree-mid2");
  RelayProcess origin("node_id = \"origin\";\n" + push_to({ingest_url(*mid1), ingest_url(mid2, "ws")}), "tree-origin");
  RelayProcess edge3("node_id = \"edge3\";\n" + pull_from(viewer_url(*mid1)), "tree-edge3");
  RelayProcess edge4("node_id = \"edge4\";\n" + pull_from(viewer_url(edge3, "ws")), "tree-edge4");
  auto capture = start_capture(ingest_url(origin));
  for (RelayProcess* r : {&origin, mid1.get(), &mid2, &edge1, &edge2}) r->wait_live("cam1");

  // ---- every level decodes at full rate
  auto v_origin = std::make_unique<Viewer>("origin", origin);
  auto v_mid1 = std::make_unique<Viewer>("mid1 (http push)", *mid1);
  Viewer v_mid2("mid2 (ws push)", mid2), v_edge1("edge1 (http push from mid1)", edge1),
      v_edge2("edge2 (tcp push from mid2)", edge2), v_edge3("edge3 (pull from mid1)", edge3),
      v_edge4("edge4 (pull from edge3, which pulls from mid1)", edge4);
  Viewers all{v_origin.get(), v_mid1.get(), &v_mid2, &v_edge1, &v_edge2, &v_edge3, &v_edge4};
  auto t0 = Clock::now();
  read_all(all, 4000);
  expect_rate_since_mark(all, secs_since(t0), 0.9, "tree");
  BOOST_TEST(edge3.stream("cam1")["via"].dump() == "[\"origin\",\"mid1\"]");
  // (edge4's stream has no via: a ws:// pull learns no path from its upstream; http:// pulls and pushes do.)
  BOOST_TEST(edge2.stream("cam1").value("publisher_kind", std::string()) == "connection", "tcp push carries no path");
  BOOST_TEST(mid1->stream("cam1").value("viewers", 0) == 3, "mid1: its viewer, edge1's push link, edge3's pull");

  // ---- mid1 dies: its subtree's viewers stay connected, the sibling subtree keeps playing
  Viewers mid1_subtree{&v_edge1, &v_edge3, &v_edge4};
  Viewers survivors{v_origin.get(), &v_mid2, &v_edge1, &v_edge2, &v_edge3, &v_edge4};
  all.erase(all.begin() + 1);  // mid1's own viewer goes with it
  BOOST_TEST(mid1->proc().kill_hard() == 128 + SIGKILL);
  v_mid1.reset();
  set_marks(survivors);
  t0 = Clock::now();
  read_all(survivors, 2000);
  expect_rate_since_mark({v_origin.get(), &v_mid2, &v_edge2}, secs_since(t0), 0.9, "mid1 down");

  // ---- mid1 back on the same ports: pictures again below it within 3 s. What it takes is mostly
  // the reconnect backoff of the origin's push and edge3's pull (0.25 s doubling, ±20 %): after a
  // 2 s outage (systemd's RestartSec) their next attempt is at most ~2.5 s after the restart.
  const uint16_t mid1_viewer = mid1->viewer_port(), mid1_ingest = mid1->ingest_port();
  mid1.reset();
  set_marks(survivors);
  const auto restarted = Clock::now();
  mid1 = std::make_unique<RelayProcess>(mid1_conf, "tree-mid1-restarted", mid1_viewer, mid1_ingest);
  BOOST_TEST_MESSAGE("mid1 restarted (ready after " << secs_since(restarted) * 1000 << " ms)");
  const auto back = time_to_pictures(survivors, mid1_subtree, restarted, 6.0);
  for (Viewer* v : mid1_subtree) {
    BOOST_TEST_REQUIRE(back.count(v->name), v->name << ": no picture within 6 s of mid1's restart");
    BOOST_TEST_MESSAGE(v->name << ": pictures again " << back.at(v->name) * 1000 << " ms after mid1 restarted");
    BOOST_TEST(back.at(v->name) < 3.0, v->name << ": " << back.at(v->name) << " s");
  }
  set_marks(survivors);
  t0 = Clock::now();
  read_all(survivors, 2500);
  expect_rate_since_mark(survivors, secs_since(t0), 0.9, "after mid1's restart");
  BOOST_TEST(mid1->stream("cam1").value("viewers", 0) == 2, "edge1's push and edge3's pull are back on mid1");

  // ---- the capture agent dies and comes back: the whole tree resumes
  v_mid1 = std::make_unique<Viewer>("mid1 (restarted)", *mid1);
  all = {v_origin.get(), v_mid1.get(), &v_mid2, &v_edge1, &v_edge2, &v_edge3, &v_edge4};
  read_all(all, 500);
  BOOST_TEST(capture->kill_hard() == 128 + SIGKILL);
  read_all(all, 1000);
  set_marks(all);
  const auto capture_again = Clock::now();
  capture = start_capture(ingest_url(origin), "capture-again");
  const auto resumed = time_to_pictures(all, all, capture_again, 10.0);
  for (Viewer* v : all) {
    BOOST_TEST_REQUIRE(resumed.count(v->name), v->name << ": no picture within 10 s of the capture agent's restart");
    BOOST_TEST_MESSAGE(v->name << ": pictures again " << resumed.at(v->name) * 1000
                               << " ms after the capture agent was started again");
  }
  set_marks(all);
  t0 = Clock::now();
  read_all(all, 2500);
  expect_rate_since_mark(all, secs_since(t0), 0.9, "after the capture agent's restart");
}

BOOST_AUTO_TEST_CASE(default_node_id_is_the_host_plus_the_config_file_name) {
  // As under systemd (mpegcast-relay@edge7 reads edge7.conf): relays started by hand on one node
  // get ids of their own, so an origin does not refuse its local instances' pulls as a loop.
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  RelayProcess edge7("", "edge7"), relay("", "relay");
  BOOST_TEST(edge7.api("/api/v1/node").value("node_id", std::string()) == std::string(host) + "-edge7");
  BOOST_TEST(relay.api("/api/v1/node").value("node_id", std::string()) == std::string(host));
  RelayProcess edge8("pull = ( { streams = \"*\"; upstreams = [ \"" + viewer_url(edge7) + "\" ]; } );\n", "edge8");
  auto capture = start_capture(ingest_url(edge7));
  edge7.wait_live("cam1");
  WsClient ws(edge8.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), ws.error());
  BOOST_TEST(collect(ws, 5000, 1000) > 0, "edge8 could not pull from edge7 on the same host");
}
