// Relay-to-relay push links (relay.conf `push`): an origin relay A, published to by the ffmpeg CLI,
// pushes cam1 to an edge relay B over HTTP (chunked POST into B's ingest) or raw TCP (B's
// ingest.tcp listener); a WebSocket viewer of B decodes the pictures. Plus: the link reconnects by
// itself when B restarts, follows its local publisher (disconnects when it goes, comes back with
// it), and a push loop A → B → A is refused instead of amplifying traffic.
#define BOOST_TEST_MODULE test_cascade
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "collect.h"
#include "decode_ts.h"
#include "free_port.h"
#include "http_get.h"
#include "process.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

constexpr double kFps = 25;
constexpr int kPublisherTimeoutS = 4;  // so a push link goes idle 2 s after its local publisher

/// One mpegcast-relay on free loopback ports with a generated config (ports kept across restarts).
struct Relay {
  std::string node;
  uint16_t viewer = free_port(), ingest = free_port();
  std::unique_ptr<Process> proc;

  explicit Relay(std::string node_id) : node(std::move(node_id)) {
    while (ingest == viewer) ingest = free_port();
  }

  /// Writes `extra` (relay.conf text) after node_id / ingest settings and starts the relay.
  void start(const std::string& extra, const std::string& log_name = "") {
    proc.reset();
    const std::string conf = test_log_dir() + "/cascade_" + node + ".conf";
    std::ofstream(conf) << "node_id = \"" << node << "\";\nlog_level = \"debug\";\n" << extra;
    proc = std::make_unique<Process>(
        log_name.empty() ? node : log_name,
        std::vector<std::string>{MPEGCAST_RELAY_BIN, "-c", conf, "--listen", "127.0.0.1:" + std::to_string(viewer),
                                 "--ingest-listen", "127.0.0.1:" + std::to_string(ingest), "--web-root", MPEGCAST_WEB_ROOT});
    BOOST_TEST_REQUIRE(proc->wait_for_log("ready", 10000), node << " did not start: see " << proc->log_path());
  }

  std::string publish_url(const std::string& stream = "cam1") const {
    return "http://127.0.0.1:" + std::to_string(ingest) + "/publish/" + stream;
  }

  /// GET /api/v1/streams/<stream>; null when the stream is unknown or the API fails.
  nlohmann::json stream(const std::string& name = "cam1") const {
    auto r = http_get(viewer, "/api/v1/streams/" + name, 2000);
    if (r.status != 200) return nullptr;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
  }

  uint64_t bytes_in(const std::string& name = "cam1") const {
    auto j = stream(name);
    return j.is_object() ? j.value("bytes_in", uint64_t{0}) : 0;
  }

  /// Log lines matching `pattern` so far.
  size_t count_log(const std::string& pattern) const {
    const std::string text = proc->log_text();
    const std::regex re(pattern);
    return static_cast<size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
  }
};

std::string ingest_settings() {
  return "ingest = { publisher_timeout_s = " + std::to_string(kPublisherTimeoutS) + "; };\n";
}

std::string push_to(const std::string& url) {
  return "push = ( { stream = \"cam1\"; url = \"" + url + "\"; } );\n";
}

/// ffmpeg CLI publishing 320x240 MPEG-1 at 25 fps (one GOP per second) to `url` for `seconds`.
std::unique_ptr<Process> ffmpeg(const std::string& name, const std::string& url, int seconds) {
  return std::make_unique<Process>(
      name, std::vector<std::string>{"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-re", "-f", "lavfi",
                                     "-i", "testsrc2=size=320x240:rate=25", "-t", std::to_string(seconds), "-c:v",
                                     "mpeg1video", "-b:v", "800k", "-bf", "0", "-g", "25", "-f", "mpegts", url});
}

/// A WebSocket viewer of `relay`'s cam1 for `ms` after its first byte; asserts ~25 fps decoded
/// (and at least 50 pictures when watching for 3 s or more).
void expect_pictures(const Relay& relay, int ms, const std::string& what) {
  WsClient ws(relay.viewer, "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), what << ": WebSocket viewer refused: " << ws.error());
  const double secs = collect(ws, 10000, ms);
  BOOST_TEST_REQUIRE(secs > 0, what << ": no data for the viewer of " << relay.node);
  const DecodeResult d = decode_ts(ws.data());
  BOOST_TEST_MESSAGE(what << ": " << d.summary() << " over " << secs << " s");
  BOOST_TEST(d.codec == "mpeg1video");
  BOOST_TEST(d.width == 320);
  if (ms >= 3000) BOOST_TEST(d.frames_decoded >= 50, what << ": decoded " << d.frames_decoded << " frames in " << secs << " s");
  BOOST_TEST(d.frames_decoded >= 0.9 * kFps * secs, what << ": decoded " << d.frames_decoded << " frames in " << secs << " s");
}

}  // namespace

BOOST_AUTO_TEST_CASE(http_push_reaches_edge_viewers) {
  Relay b("relay-b"), a("relay-a");
  b.start(ingest_settings());
  a.start(ingest_settings() + push_to(b.publish_url() + "?secret=not-needed-on-loopback"));
  BOOST_TEST(a.proc->wait_for_log("push cam1 to .*: waiting for local data", 1000));
  BOOST_TEST(a.count_log("not-needed-on-loopback") == 0u, "the secret shows in A's log");
  auto pub = ffmpeg("ffmpeg", a.publish_url(), 30);
  BOOST_TEST_REQUIRE(a.proc->wait_for_log("push cam1 to http://.*secret=\\*\\*\\*: connected to 127.0.0.1:", 8000));
  BOOST_TEST_REQUIRE(b.proc->wait_for_log("ingest 127.0.0.1:[0-9]+: publishing stream cam1 \\(chunked body\\)", 8000));
  expect_pictures(b, 3000, "edge viewer (http push)");
  // The chunked framing goes into the chunks' headroom: A's own viewers must see clean TS.
  expect_pictures(a, 3000, "origin viewer while its http link pushes");
  const auto sa = a.stream(), sb = b.stream();
  BOOST_TEST_REQUIRE(sb.is_object());
  BOOST_TEST(sb.value("publishers_total", 0) == 1, "B saw the link reconnect: " << sb.dump());
  BOOST_TEST(sb.value("cc_errors", 1) == 0, sb.dump());
  BOOST_TEST_MESSAGE("A in: " << sa.value("bitrate_in_bps", 0) << " bps; B in: " << sb.value("bitrate_in_bps", 0) << " bps");

  // The link's counters in A's /api/v1/node, with the secret masked.
  auto node = http_get(a.viewer, "/api/v1/node", 2000);
  auto j = nlohmann::json::parse(node.body, nullptr, false);
  BOOST_TEST_REQUIRE((j.is_object() && j.contains("push") && j["push"].size() == 1u), "no push stats: " << node.body);
  const auto& link = j["push"][0];
  BOOST_TEST(link.value("stream", "") == "cam1");
  BOOST_TEST(link.value("url", "") == b.publish_url() + "?secret=***");
  BOOST_TEST(link.value("connected", false));
  BOOST_TEST(link.value("bytes_out", uint64_t{0}) > 100000u, link.dump());
  BOOST_TEST(link.value("connects", 0) == 1);

  // A stops cleanly while its link is up.
  BOOST_TEST(a.proc->stop() == 0);
  BOOST_TEST(b.proc->wait_for_log("stream cam1: publisher disconnected", 3000));
}

BOOST_AUTO_TEST_CASE(tcp_push_reaches_edge_viewers) {
  Relay b("relay-b"), a("relay-a");
  const uint16_t tcp = free_port();
  b.start("ingest = { publisher_timeout_s = " + std::to_string(kPublisherTimeoutS) + "; tcp = ( { listen = \"127.0.0.1:" +
          std::to_string(tcp) + "\"; stream = \"cam1\"; allow = [ \"127.0.0.0/8\" ]; } ); };\n");
  // A host name, so the link resolves it on its helper thread.
  a.start(ingest_settings() + push_to("tcp://localhost:" + std::to_string(tcp)));
  auto pub = ffmpeg("ffmpeg", a.publish_url(), 30);
  BOOST_TEST_REQUIRE(b.proc->wait_for_log("tcp ingest 127.0.0.1:[0-9]+: publishing stream cam1", 8000));
  expect_pictures(b, 3000, "edge viewer (tcp push)");
  BOOST_TEST(b.stream().value("publishers_total", 0) == 1);
}

BOOST_AUTO_TEST_CASE(ws_push_reaches_edge_viewers) {
  Relay b("relay-b"), a("relay-a");
  b.start(ingest_settings());
  a.start(ingest_settings() + push_to("ws://127.0.0.1:" + std::to_string(b.ingest) + "/publish/cam1"));
  auto pub = ffmpeg("ffmpeg", a.publish_url(), 30);
  BOOST_TEST_REQUIRE(b.proc->wait_for_log("publishing stream cam1 \\(WebSocket\\)", 8000));
  expect_pictures(b, 3000, "edge viewer (ws push)");
  BOOST_TEST(b.stream().value("publishers_total", 0) == 1);
  // lws masks client frames in place: the link must not write the shared chunks' bytes.
  expect_pictures(a, 3000, "origin viewer while its ws link pushes");
}

BOOST_AUTO_TEST_CASE(unresolvable_downstream_is_logged_once_and_viewers_are_unaffected) {
  Relay a("relay-a");
  a.start(ingest_settings() + push_to("http://no-such-host.invalid:8081/publish/cam1"));
  auto pub = ffmpeg("ffmpeg", a.publish_url(), 30);
  BOOST_TEST_REQUIRE(a.proc->wait_for_log("publishing stream cam1", 8000));
  expect_pictures(a, 3000, "origin viewer while its push link cannot resolve");
  BOOST_TEST(a.proc->wait_for_log("push cam1 to http://no-such-host.invalid:8081/publish/cam1: cannot resolve "
                                  "no-such-host.invalid: .*; retrying with backoff",
                                  15000));
  std::this_thread::sleep_for(2s);  // more attempts, no more warnings
  BOOST_TEST(a.count_log("<4>push cam1 to ") == 1u);
}

BOOST_AUTO_TEST_CASE(link_reconnects_after_edge_restart) {
  Relay b("relay-b"), a("relay-a");
  b.start(ingest_settings(), "relay-b-1");
  a.start(ingest_settings() + push_to(b.publish_url()));
  auto pub = ffmpeg("ffmpeg", a.publish_url(), 40);
  BOOST_TEST_REQUIRE(b.proc->wait_for_log("publishing stream cam1", 8000));
  expect_pictures(b, 1500, "before the restart");

  const size_t mark = a.proc->log_size();
  b.proc->kill_hard();
  BOOST_TEST_REQUIRE(a.proc->wait_for_log("push cam1 to .*retrying with backoff", 5000, mark),
                     "A did not notice B going away");
  std::this_thread::sleep_for(1500ms);  // a few failed attempts against the closed port
  const auto restarted = std::chrono::steady_clock::now();
  b.start(ingest_settings(), "relay-b-2");
  BOOST_TEST_REQUIRE(b.proc->wait_for_log("publishing stream cam1", 12000), "A's link did not come back to B");
  const auto back_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted).count();
  BOOST_TEST_MESSAGE("link back " << back_ms << " ms after B's restart");
  expect_pictures(b, 3000, "after the restart");
  BOOST_TEST(a.proc->wait_for_log("push cam1 to .*: connected again to 127.0.0.1:", 8000, mark));
  // One line per change of failure, not one per attempt.
  const std::string tail = a.proc->log_text().substr(mark);
  const std::regex warn("<4>push cam1 to ");
  const auto warnings = std::distance(std::sregex_iterator(tail.begin(), tail.end(), warn), std::sregex_iterator());
  BOOST_TEST(warnings <= 3, warnings << " warnings for one outage:\n" << tail.substr(0, 3000));
}

BOOST_AUTO_TEST_CASE(link_follows_its_local_publisher) {
  Relay b("relay-b"), a("relay-a");
  b.start(ingest_settings());
  a.start(ingest_settings() + push_to(b.publish_url()));
  {
    auto pub = ffmpeg("ffmpeg-1", a.publish_url(), 4);
    BOOST_TEST_REQUIRE(b.proc->wait_for_log("publishing stream cam1", 8000));
    // ffmpeg ends: A's link ends its POST properly about publisher_timeout_s / 2 later.
    BOOST_TEST(a.proc->wait_for_log("push cam1 to .*: disconnected: local stream idle", 15000));
    BOOST_TEST(b.proc->wait_for_log("stream cam1: publisher finished its request", 3000));
  }
  const size_t mark_b = b.proc->log_size();
  std::this_thread::sleep_for(3s);
  BOOST_TEST(b.proc->log_text().find("publishing stream", mark_b) == std::string::npos,
             "A reconnected without local data");
  auto pub = ffmpeg("ffmpeg-2", a.publish_url(), 20);
  BOOST_TEST_REQUIRE(b.proc->wait_for_log("publishing stream cam1", 8000, mark_b));
  expect_pictures(b, 3000, "second publisher");
}

// Loop: A pushes cam1 to B and B pushes cam1 back to A (over `scheme`: http or ws). B's link sends
// "X-Mpegcast-Via: relay-a, relay-b"; A must refuse it ("loop: node relay-a already in the path",
// 508 Loop Detected) rather than let the stream circulate.
// NEEDS the ingest-side wiring of parse_via()/check_via() in relay/http_ingest.cpp and
// relay/ws_ingest.cpp (owned by the lead). Without it, A refuses B's link only because cam1 is busy
// (409) while ffmpeg publishes, and once ffmpeg stops, B's link may get in and the GOP cache
// circulates A -> B -> A for ever (phase 2 catches that when it happens).
static void run_push_loop(const std::string& scheme) {
  Relay a("relay-a"), b("relay-b");
  a.start(ingest_settings() + push_to(scheme + "://127.0.0.1:" + std::to_string(b.ingest) + "/publish/cam1"));
  b.start(ingest_settings() + push_to(scheme + "://127.0.0.1:" + std::to_string(a.ingest) + "/publish/cam1"));
  {
    auto pub = ffmpeg("ffmpeg", a.publish_url(), 14);
    BOOST_TEST_REQUIRE(b.proc->wait_for_log("publishing stream cam1", 8000));
    // Phase 1: while ffmpeg publishes, A's input stays at ffmpeg's rate and B's link is refused.
    std::this_thread::sleep_for(6s);
    const auto sa = a.stream(), sb = b.stream();
    BOOST_TEST_REQUIRE(sa.is_object());
    const double a_bps = sa.value("bitrate_in_bps", 0.0), b_bps = sb.value("bitrate_in_bps", 0.0);
    BOOST_TEST_MESSAGE(scheme << " loop: A in " << a_bps << " bps, B in " << b_bps << " bps");
    BOOST_TEST(a_bps > 100000);
    BOOST_TEST(a_bps < 1.3 * b_bps + 200000, "A takes in more than it sends on: A " << a_bps << " bps, B " << b_bps);
    BOOST_TEST(sa.value("publishers_total", 0) == 1, "another publisher got into A: " << sa.dump());
    BOOST_TEST(b.proc->wait_for_log("push cam1 to " + scheme + "://.*: refused by the downstream: (HTTP )?508", 2000),
               "B's link was not refused as a loop (is check_via wired into the " << scheme << " ingest?)");
    BOOST_TEST(a.proc->wait_for_log("refused: 508 Loop Detected: loop: node relay-a already in the path", 1000));
    BOOST_TEST(b.count_log("<4>push cam1 to ") <= 2u, "B's refused link logged more than once per change");
  }
  // Phase 2: ffmpeg is gone. Within publisher_timeout_s + the links' idle time, both relays
  // must fall silent: no stream may keep circulating between them.
  std::this_thread::sleep_for(std::chrono::seconds(kPublisherTimeoutS + 4));
  const uint64_t a0 = a.bytes_in(), b0 = b.bytes_in();
  std::this_thread::sleep_for(4s);
  const uint64_t a1 = a.bytes_in(), b1 = b.bytes_in();
  BOOST_TEST(a1 - a0 < 20000u, "A still takes in data without a source: " << a1 - a0 << " bytes in 4 s");
  BOOST_TEST(b1 - b0 < 20000u, "B still takes in data without a source: " << b1 - b0 << " bytes in 4 s");
}

BOOST_AUTO_TEST_CASE(push_loop_is_refused_without_amplification) { run_push_loop("http"); }

BOOST_AUTO_TEST_CASE(websocket_push_loop_is_refused_without_amplification) { run_push_loop("ws"); }
