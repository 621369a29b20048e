// Real network hops: relays in their own network namespaces ("boxes") joined by veth pairs, one hop
// narrower than the stream and one that loses packets. Needs root and `ip`, `tc`, `nft` (iproute2,
// nftables); skipped with the reason otherwise.
//
//   ns origin: capture ─▶ origin ──ws push (198.18.1.0/30)──▶ ns mid: mid ─┬─ 198.18.2.0/30, tbf 600 kbit/s ─▶ ns slow: edge pulling on demand
//                                                                         └─ 198.18.3.0/30, 3 % loss (nft) ──▶ ns lossy: edge pushed to (http)
//
// Each viewer runs in the namespace of its relay and connects to it on that namespace's loopback
// (the test process enters the namespace only to open the socket, see NetnsScope), so the viewer's
// own connection is never the narrow or lossy part: only relay-to-relay traffic crosses the veths,
// as when a viewer sits next to its edge relay. The origin's viewer is the reference clock: how far
// an edge viewer's newest picture (video PTS) is behind the origin viewer's at the same moment is
// that viewer's delay.
//
// Measured: the slow hop (600 kbit/s for a ~1.1 Mbit/s stream) makes mid skip its pulling edge
// ahead to the newest keyframe (lag_skips on mid), the edge's viewer keeps decoding (at most one
// damaged picture per skip) and its delay stays within hub.max_lag_ms plus the hop's buffers; the
// lossy hop's viewer keeps ≥ 80 % of the frames. Both hops run at once, ~25 s in all.
#define BOOST_TEST_MODULE test_netns
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <thread>

#include "decode_ts.h"
#include "netns.h"
#include "relay_process.h"
#include "ts_pts.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

constexpr double kFps = 25;
constexpr int kViewerPort = 28080, kIngestPort = 28081;  // inside private namespaces: nothing else listens there
constexpr int kSlowKbit = 600;                           // the stream is ~1.1 Mbit/s
constexpr int kMidMaxLagMs = 1500;                       // mid's hub.max_lag_ms
constexpr int kMidSndbufBytes = 16384;                   // mid's hub.viewer_sndbuf_bytes (the kernel doubles it)
constexpr int kTbfLatencyMs = 50;
constexpr int kLossPercent = 3;
constexpr int kWatchMs = 20000;

boost::test_tools::assertion_result namespaces_usable(boost::unit_test::test_unit_id) {
  const std::string why = netns_unavailable({"tc", "nft"});
  boost::test_tools::assertion_result r(why.empty());
  if (!why.empty()) r.message() << "network namespace test skipped: " << why;
  return r;
}

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// A WebSocket viewer of cam1 opened inside `ns`, with its newest PTS and its longest time without
/// a new picture.
struct Viewer {
  std::string name;
  WsClient ws;
  VideoPtsTracker pts;
  std::optional<double> last_pts_s;
  Clock::time_point last_progress = Clock::now();
  double longest_freeze_s = 0;

  Viewer(std::string n, const NetNamespace& ns) : name(std::move(n)), ws(kViewerPort, "/live/cam1") {
    NetnsScope inside(ns.name());
    BOOST_TEST_REQUIRE(ws.connect(), name << ": " << ws.error());
  }
  void read(int ms) {
    BOOST_TEST_REQUIRE(ws.read_for(ms), name << " lost its connection: " << ws.error());
    pts.update(ws.data());
    const auto now = pts.last_pts_s();
    if (now && (!last_pts_s || *now > *last_pts_s)) {
      if (last_pts_s) longest_freeze_s = std::max(longest_freeze_s, secs_since(last_progress));
      last_pts_s = now;
      last_progress = Clock::now();
    }
  }
};

/// One hop's delay relative to the reference viewer, sampled over the run.
struct DelayStats {
  double max_s = 0, sum_s = 0;
  int samples = 0;
  void add(const Viewer& reference, const Viewer& v) {
    if (!reference.last_pts_s || !v.last_pts_s) return;
    const double d = *reference.last_pts_s - *v.last_pts_s;
    max_s = std::max(max_s, d);
    sum_s += d;
    ++samples;
  }
  double mean_s() const { return samples ? sum_s / samples : 0; }
};

/// The sum of the "counter packets N" of the rules commented `comment` in `nft list` output.
int sum_counter_packets(const std::string& listing, const std::string& comment) {
  int sum = 0;
  const std::regex re("counter packets ([0-9]+) bytes [0-9]+.* comment \"" + comment + "\"");
  for (auto it = std::sregex_iterator(listing.begin(), listing.end(), re); it != std::sregex_iterator(); ++it) {
    sum += std::stoi((*it)[1]);
  }
  return sum;
}

std::string streams_with_secret(const std::string& secret) {
  return "streams = ( { name = \"cam1\"; secret = \"" + secret + "\"; } );\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(tree_across_namespaces_with_a_slow_and_a_lossy_hop, *boost::unit_test::precondition(namespaces_usable)) {
  NetNamespace ns_origin("origin"), ns_mid("mid"), ns_slow("slow"), ns_lossy("lossy");
  const VethLink origin_mid(ns_origin, ns_mid, 1), mid_slow(ns_mid, ns_slow, 2), mid_lossy(ns_mid, ns_lossy, 3);
  // The slow hop: a token bucket on mid's end, so mid → slow carries at most kSlowKbit.
  must_run(ns_mid.exec({"tc", "qdisc", "add", "dev", mid_slow.a_if, "root", "tbf", "rate", std::to_string(kSlowKbit) + "kbit",
                        "burst", "6000", "latency", std::to_string(kTbfLatencyMs) + "ms"}));
  // The lossy hop: the lossy box drops kLossPercent of what crosses its veth, in and out.
  const std::string drop = "numgen random mod 100 < " + std::to_string(kLossPercent) + " counter drop comment \"dropped\"";
  must_run(ns_lossy.exec({"nft", "add table inet mct_loss"}));
  must_run(ns_lossy.exec({"nft", "add chain inet mct_loss in { type filter hook input priority 0 ; }"}));
  must_run(ns_lossy.exec({"nft", "add chain inet mct_loss out { type filter hook output priority 0 ; }"}));
  for (const std::string dir : {"in iifname ", "out oifname "}) {
    must_run(ns_lossy.exec({"nft", "add rule inet mct_loss " + dir + mid_lossy.b_if + " counter comment \"seen\""}));
    must_run(ns_lossy.exec({"nft", "add rule inet mct_loss " + dir + mid_lossy.b_if + " " + drop}));
  }

  const auto base = [](const std::string& node) { return "node_id = \"" + node + "\";\n"; };
  const auto addr = [](const std::string& a, int port) { return a + ":" + std::to_string(port); };
  RelayProcess lossy(base("lossy") + streams_with_secret("s-lossy"), "netns-lossy", kViewerPort, kIngestPort,
                     ns_lossy.name());
  RelayProcess mid(base("mid") + streams_with_secret("s-mid") + "hub = { max_lag_ms = " + std::to_string(kMidMaxLagMs) +
                       "; viewer_sndbuf_bytes = " + std::to_string(kMidSndbufBytes) + "; };\n" +
                       "push = ( { stream = \"cam1\"; url = \"http://" + addr(mid_lossy.b_addr, kIngestPort) +
                       "/publish/cam1?secret=s-lossy\"; } );\n",
                   "netns-mid", kViewerPort, kIngestPort, ns_mid.name());
  RelayProcess origin(base("origin") + "push = ( { stream = \"cam1\"; url = \"ws://" + addr(origin_mid.b_addr, kIngestPort) +
                          "/publish/cam1?secret=s-mid\"; } );\n",
                      "netns-origin", kViewerPort, kIngestPort, ns_origin.name());
  RelayProcess slow(base("slow") + "pull = ( { streams = \"*\"; upstreams = [ \"http://" + addr(mid_slow.a_addr, kViewerPort) +
                        "\" ]; on_demand = true; } );\n",
                    "netns-slow", kViewerPort, kIngestPort, ns_slow.name());
  auto capture = start_capture("http://127.0.0.1:" + std::to_string(kIngestPort) + "/publish/cam1", "capture",
                               ns_origin.name());
  for (RelayProcess* r : {&origin, &mid, &lossy}) r->wait_live("cam1");

  Viewer v_origin("origin viewer", ns_origin), v_mid("mid viewer", ns_mid), v_slow("slow edge viewer", ns_slow),
      v_lossy("lossy edge viewer", ns_lossy);
  std::vector<Viewer*> all{&v_origin, &v_mid, &v_slow, &v_lossy};
  DelayStats slow_delay, lossy_delay, mid_delay;
  const auto t0 = Clock::now();
  while (secs_since(t0) * 1000 < kWatchMs) {
    for (Viewer* v : all) v->read(10);
    if (secs_since(t0) > 3) {  // past the start-up burst of the GOP caches
      slow_delay.add(v_origin, v_slow);
      lossy_delay.add(v_origin, v_lossy);
      mid_delay.add(v_origin, v_mid);
    }
  }
  const double secs = secs_since(t0);

  // ---- what each viewer decoded
  std::map<std::string, DecodeResult> decoded;
  for (Viewer* v : all) {
    decoded[v->name] = decode_ts(v->ws.data());
    BOOST_TEST_MESSAGE(v->name << ": " << decoded[v->name].summary() << " in " << secs << " s ("
                               << 100.0 * decoded[v->name].frames_decoded / (kFps * secs) << " % of 25 fps), "
                               << v->ws.data().size() * 8 / secs / 1000 << " kbit/s, longest without a new picture "
                               << v->longest_freeze_s << " s");
    // The slow and the lossy edge may see a damaged picture per lag skip upstream (checked below).
    // The origin's viewer decodes cleanly. Every viewer behind mid may see a damaged picture per lag skip there
    // (checked below): in a sanitizer build mid itself can fall far enough behind to skip its own viewer.
    if (v == &v_origin) BOOST_TEST(decoded[v->name].errors == 0, v->name << ": " << decoded[v->name].error_text);
  }
  const nlohmann::json mid_cam = mid.stream("cam1"), slow_cam = slow.stream("cam1"), lossy_cam = lossy.stream("cam1");
  BOOST_TEST_MESSAGE("origin bitrate in: " << origin.stream("cam1").value("bitrate_in_bps", 0) << " bit/s");

  // ---- reference and mid: full rate
  for (Viewer* v : {&v_origin, &v_mid}) BOOST_TEST(decoded[v->name].frames_decoded >= 0.9 * kFps * secs, v->name);
  BOOST_TEST(mid_cam["via"].dump() == "[\"origin\"]");

  // ---- slow hop: mid skips its pulling edge ahead by whole GOPs; the edge's viewer keeps decoding,
  // its delay bounded by mid's max_lag_ms plus what the hop buffers (mid's socket, the tbf queue).
  const uint64_t mid_skips = mid_cam.value("lag_skips", uint64_t{0}), slow_skips = slow_cam.value("lag_skips", uint64_t{0});
  const double buffered_s = 2.0 * kMidSndbufBytes * 8 / (kSlowKbit * 1000.0) + kTbfLatencyMs / 1000.0;
  const double bound_s = kMidMaxLagMs / 1000.0 + buffered_s + 0.5;
  BOOST_TEST_MESSAGE("slow hop: lag_skips on mid " << mid_skips << ", on the slow edge " << slow_skips
                                                   << "; delay behind the origin's viewer: max " << slow_delay.max_s
                                                   << " s, mean " << slow_delay.mean_s() << " s over " << slow_delay.samples
                                                   << " samples (bound " << bound_s << " s = max_lag_ms "
                                                   << kMidMaxLagMs / 1000.0 << " + buffers " << buffered_s << " + 0.5)");
  BOOST_TEST_MESSAGE("slow hop: the slow edge's viewer decoded " << 100.0 * decoded[v_slow.name].frames_decoded / (kFps * secs)
                                                                 << " % of 25 fps, longest without a new picture "
                                                                 << v_slow.longest_freeze_s << " s; tbf on mid: "
                                                                 << command_output(ns_mid.exec({"tc", "-s", "qdisc", "show", "dev", mid_slow.a_if})));
  BOOST_TEST(mid_skips >= 2u, "mid never skipped the slow edge ahead");
  // A skip leaves the picture in flight unfinished when the chunk sent last ended inside it (the
  // hub cuts at chunk, not picture, boundaries): at most one damaged picture per skip, the rest of
  // the stream decodes.
  BOOST_TEST(static_cast<uint64_t>(decoded[v_slow.name].errors) <= mid_skips, decoded[v_slow.name].error_text);
  BOOST_TEST(static_cast<uint64_t>(decoded[v_mid.name].errors) <= mid_skips, decoded[v_mid.name].error_text);
  BOOST_TEST(slow_delay.max_s <= bound_s);
  BOOST_TEST(decoded[v_slow.name].frames_decoded >= 0.3 * kFps * secs, "the slow edge's viewer stopped decoding");
  BOOST_TEST(v_slow.longest_freeze_s < 3.0, "the slow edge's viewer froze");
  BOOST_TEST(slow_cam["via"].dump() == "[\"origin\",\"mid\"]");

  // ---- lossy hop: TCP recovers; the viewer keeps ≥ 80 % of the frames. A retransmission burst can
  // put mid's push to the lossy edge more than max_lag_ms behind: a skip, and at most one damaged
  // picture for it, as on the slow hop.
  BOOST_TEST(static_cast<uint64_t>(decoded[v_lossy.name].errors) <=
                 mid_skips + lossy_cam.value("lag_skips", uint64_t{0}),
             decoded[v_lossy.name].error_text);
  BOOST_TEST_MESSAGE("lossy hop: delay behind the origin's viewer: max " << lossy_delay.max_s << " s, mean "
                                                                          << lossy_delay.mean_s() << " s; lag_skips on the lossy edge "
                                                                          << lossy_cam.value("lag_skips", 0) << "; mid's push: "
                                                                          << mid.api("/api/v1/node")["push"].dump());
  const std::string loss_rules = command_output(ns_lossy.exec({"nft", "list", "table", "inet", "mct_loss"}));
  const int seen = sum_counter_packets(loss_rules, "seen"), dropped = sum_counter_packets(loss_rules, "dropped");
  BOOST_TEST_MESSAGE("lossy hop: nftables dropped " << dropped << " of " << seen << " packets ("
                                                    << 100.0 * dropped / std::max(1, seen) << " %); lossy edge viewer "
                                                    << 100.0 * decoded[v_lossy.name].frames_decoded / (kFps * secs)
                                                    << " % of 25 fps, longest without a new picture "
                                                    << v_lossy.longest_freeze_s << " s");
  BOOST_TEST(dropped >= 0.015 * seen, loss_rules);
  BOOST_TEST(dropped <= 0.05 * seen, loss_rules);
  BOOST_TEST(seen > 1000, loss_rules);
  BOOST_TEST(decoded[v_lossy.name].frames_decoded >= 0.8 * kFps * secs);
  BOOST_TEST(lossy_cam.value("cc_errors", 1) == 0);
  BOOST_TEST(mid_delay.max_s < 1.0, "the unlimited hop origin → mid lags");
}
