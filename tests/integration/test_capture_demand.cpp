// mpegcast-capture with on_demand = true: nobody watching costs ~0 CPU; a viewer arriving (at the
// relay, or at an edge that pulls on demand from it) gets a picture within a second; encoding
// stops demand_linger_s after the last viewer left; a relay API answering garbage counts as demand.
// Real relays, a real agent, decoded pictures.
#define BOOST_TEST_MODULE capture_demand
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "decode_pictures.h"
#include "free_port.h"
#include "process.h"
#include "relay_process.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// utime + stime of `pid` in seconds (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close_paren = text.rfind(')');
  BOOST_TEST_REQUIRE(close_paren != std::string::npos);
  std::istringstream rest(text.substr(close_paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// CPU seconds `pid` spends per second of wall time over `seconds`.
double cpu_share(pid_t pid, double seconds) {
  const double c0 = cpu_seconds(pid);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return (cpu_seconds(pid) - c0) / since(t0);
}

/// The agent: on demand, linger 2 s, asking `api_url` every 100 ms; a 640x480 25 fps test pattern.
/// `token`: the relay's api.token ("" = none).
std::unique_ptr<Process> demand_agent(const std::string& tag, const std::string& target, const std::string& api_url,
                                      const std::string& token = "") {
  const std::string conf = test_log_dir() + "/" + tag + ".conf";
  std::ofstream(conf) << "status_interval_s = 1;\non_demand = true;\ndemand_linger_s = 2;\ndemand_poll_ms = 100;\n"
                         "demand_urls = [ \"" << api_url << "\" ];\ndemand_token = \"" << token << "\";\n"
                         "target_defaults = { reconnect_initial_ms = 100; reconnect_max_ms = 1000; };\n";
  return std::make_unique<Process>(tag, std::vector<std::string>{MPEGCAST_CAPTURE_BIN, "-c", conf, "--input",
                                                                 "lavfi:testsrc2=size=640x480:rate=25", "--target",
                                                                 target});
}

/// Seconds from connect until the first decodable picture (REQUIREs one within `limit_s`).
double first_picture_s(WsClient& ws, double limit_s) {
  const auto t0 = Clock::now();
  BOOST_TEST_REQUIRE(ws.connect(), ws.error());
  while (since(t0) < limit_s) {
    BOOST_TEST_REQUIRE(ws.read_for(10), "viewer lost its connection: " << ws.error());
    int pictures = 0;
    decode_pictures(ws.data(), [&](const AVFrame*, int64_t) { ++pictures; });
    if (pictures > 0) return since(t0);
  }
  BOOST_FAIL("no picture within " << limit_s << " s");
  return limit_s;
}

/// Closes the viewer, then waits for the agent to pause; returns the seconds that took.
double pause_after_leaving(WsClient& ws, Process& agent) {
  const size_t mark = agent.log_size();
  const auto left = Clock::now();
  ws.close();
  BOOST_TEST_REQUIRE(agent.wait_for_log("nobody watching for the linger time: encoding paused", 15000, mark),
                     "the agent kept encoding: " << agent.log_path());
  return since(left);
}

}  // namespace

BOOST_AUTO_TEST_CASE(nobody_watching_costs_nothing_and_a_viewer_gets_a_picture_at_once) {
  // The relay's API wants a token: a wrong or missing one would read as "relay not answering" and
  // keep the agent encoding.
  const std::string token = "demand-s3cret";
  RelayProcess relay("api = { token = \"" + token + "\"; };\n", "relay");
  const std::string api = "http://127.0.0.1:" + std::to_string(relay.viewer_port()) + "/api/v1/streams/cam1";
  auto agent =
      demand_agent("agent", "http://127.0.0.1:" + std::to_string(relay.ingest_port()) + "/publish/cam1", api, token);
  BOOST_TEST_REQUIRE(agent->wait_for_log("nobody watching: encoding paused", 10000), agent->log_path());
  BOOST_TEST_REQUIRE(agent->wait_for_log("ready \\(on demand\\)", 3000), agent->log_path());
  const double idle = cpu_share(agent->pid(), 5.0);

  WsClient ws(relay.viewer_port(), "/live/cam1");
  const double first_s = first_picture_s(ws, 3.0);
  for (int i = 0; i < 60; ++i) BOOST_TEST_REQUIRE(ws.read_for(50), ws.error());  // 3 s watched
  const double busy = cpu_share(agent->pid(), 3.0);
  int pictures = 0;
  decode_pictures(ws.data(), [&](const AVFrame* f, int64_t) {
    ++pictures;
    BOOST_TEST((f->width == 640 && f->height == 480));
  });
  const double paused_after_s = pause_after_leaving(ws, *agent);
  BOOST_TEST_REQUIRE(agent->wait_for_log("source lavfi.*closed \\(paused\\)", 3000), agent->log_path());
  BOOST_TEST_REQUIRE(relay.proc().wait_for_log("stream cam1: publisher (finished its request|disconnected)", 3000),
                     relay.proc().log_path());
  const double idle_again = cpu_share(agent->pid(), 3.0);

  BOOST_TEST_MESSAGE("on demand at the relay: agent CPU " << idle * 100 << " % of a core idle, " << busy * 100
                     << " % encoding, " << idle_again * 100 << " % idle again; first picture " << first_s * 1000
                     << " ms after the viewer connected; " << pictures << " pictures; paused " << paused_after_s
                     << " s after the viewer left (linger 2 s)");
  BOOST_TEST(idle < 0.02);  // polling the API only
  BOOST_TEST(idle_again < 0.02);
  BOOST_TEST(busy > 2 * std::max(idle, idle_again));  // encoding costs something; paused, it does not
  BOOST_TEST(first_s < 1.0);
  BOOST_TEST(pictures >= 0.8 * 25 * 3);
  BOOST_TEST(paused_after_s >= 1.8);
  BOOST_TEST(paused_after_s < 3.5);
  // The relay saw a publisher only while someone watched.
  BOOST_TEST(count_lines(relay.proc().log_text(), "publishing stream cam1") == 1, relay.proc().log_path());
  BOOST_TEST(agent->log_text().find(token) == std::string::npos, "the token is in the agent's log");
  BOOST_TEST(relay.proc().log_text().find(token) == std::string::npos, "the token is in the relay's log");
  // Resuming opens the source again: no slate while it opens.
  BOOST_TEST(count_lines(agent->log_text(), "the slate is on the stream") == 0, agent->log_path());
}

BOOST_AUTO_TEST_CASE(demand_travels_up_through_a_pull_on_demand_edge) {
  RelayProcess origin("", "origin");
  const std::string edge_conf = "pull = ( { streams = \"*\"; upstreams = [ \"http://127.0.0.1:" +
                                std::to_string(origin.viewer_port()) +
                                "\" ]; on_demand = true; idle_timeout_s = 1; start_timeout_s = 5; } );\n";
  RelayProcess edge(edge_conf, "edge");
  const std::string api = "http://127.0.0.1:" + std::to_string(origin.viewer_port()) + "/api/v1/streams/cam1";
  auto agent = demand_agent("agent-tree", "http://127.0.0.1:" + std::to_string(origin.ingest_port()) + "/publish/cam1",
                            api);
  BOOST_TEST_REQUIRE(agent->wait_for_log("nobody watching: encoding paused", 10000), agent->log_path());

  size_t origin_mark = 0;
  for (int round = 0; round < 2; ++round) {
    WsClient ws(edge.viewer_port(), "/live/cam1");
    const double first_s = first_picture_s(ws, 3.0);
    for (int i = 0; i < 40; ++i) BOOST_TEST_REQUIRE(ws.read_for(50), ws.error());  // 2 s watched
    int pictures = 0;
    decode_pictures(ws.data(), [&](const AVFrame*, int64_t) { ++pictures; });
    const double paused_after_s = pause_after_leaving(ws, *agent);
    // Paused, the agent holds no connection: the origin sees its publisher finish.
    BOOST_TEST_REQUIRE(origin.proc().wait_for_log("stream cam1: publisher (finished its request|disconnected)", 3000, origin_mark),
                       origin.proc().log_path());
    origin_mark = origin.proc().log_size();
    BOOST_TEST_MESSAGE("round " << round << ": edge viewer's first picture " << first_s * 1000 << " ms, " << pictures
                                << " pictures in 2 s; agent paused " << paused_after_s
                                << " s after the viewer left (edge idle_timeout 1 s + linger 2 s)");
    BOOST_TEST(first_s < 1.0);
    BOOST_TEST(pictures >= 0.8 * 25 * 2);
    BOOST_TEST(paused_after_s >= 2.8);  // the edge's pull counts as demand until its idle timeout
    BOOST_TEST(paused_after_s < 5.5);
  }
}

BOOST_AUTO_TEST_CASE(a_relay_answering_garbage_counts_as_demand) {
  // A "relay API" that answers every request with 300 KiB of bytes that are no stream document
  // (a wrong demand_urls entry, or a hostile server): the agent fails open, encodes, and says so
  // once, not at every poll.
  const uint16_t port = free_port();
  Process junk("junk-api", {"/usr/bin/python3", "-c",
                            "import http.server,os,sys\n"
                            "class H(http.server.BaseHTTPRequestHandler):\n"
                            "  def do_GET(self):\n"
                            "    b=os.urandom(300*1024); self.send_response(200); self.send_header('Content-Length',str(len(b)));"
                            " self.end_headers(); self.wfile.write(b)\n"
                            "  def log_message(self,*a): pass\n"
                            "s=http.server.HTTPServer(('127.0.0.1'," + std::to_string(port) + "),H); print('listening',flush=True);"
                            " s.serve_forever()\n"});
  BOOST_TEST_REQUIRE(junk.wait_for_log("^listening", 10000), junk.log_path());
  RelayProcess relay("", "relay-junk");
  auto agent = demand_agent("agent-junk", "http://127.0.0.1:" + std::to_string(relay.ingest_port()) + "/publish/cam1",
                            "http://127.0.0.1:" + std::to_string(port) + "/api/v1/streams/cam1");
  relay.wait_live("cam1");
  std::this_thread::sleep_for(2s);  // ~20 polls
  BOOST_TEST_REQUIRE(agent->running(), agent->log_path());
  const std::string log = agent->log_text();
  BOOST_TEST(count_lines(log, "on demand: .*not a stream document.*encoding while it does not answer") == 1, log);
  BOOST_TEST(count_lines(log, "encoding paused") == 0, log);
}
