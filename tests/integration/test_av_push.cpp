// Push links that libavformat carries (relay.conf `push` with udp:// and srt://), against real
// receivers on loopback: relay A (published to by the capture agent) pushes cam1
// - over UDP unicast and multicast (239.255.0.1 out of 127.0.0.1, so it stays on `lo`) into
//   relay B's raw UDP ingest, and to a plain UDP socket of the test that checks datagram sizes;
// - over SRT (caller) to `srt-live-transmit` (Debian's srt-tools) listening, which hands the TS on
//   over UDP to relay B.
// A viewer of B decodes what arrived. The SRT far end is killed and restarted: A's link comes back
// within its backoff bound with one log line per change, and a viewer of A keeps decoding at full
// rate meanwhile (nothing of libavformat runs on A's service thread).
#define BOOST_TEST_MODULE test_av_push
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <thread>

extern "C" {
#include <libavformat/avio.h>
}

#include "collect.h"
#include "decode_ts.h"
#include "free_port.h"
#include "http_stream_reader.h"
#include "process.h"
#include "relay_process.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr double kFps = 25;
constexpr const char* kGroup = "239.255.0.1";
constexpr const char* kPassphrase = "s3cret-passphrase";  // SRT: 10 to 79 characters
constexpr int64_t kReconnectMaxMs = 5000;                 // AvOutputConfig's default backoff cap

int64_t ms_since(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}

/// An HTTP-TS viewer of `stream` on `port`, read for `ms` after its first byte and decoded.
struct Watch {
  DecodeResult decoded;
  double seconds = 0;
  std::string error;
};
Watch watch(uint16_t port, const std::string& stream, int ms) {
  Watch w;
  HttpStreamReader r(port, "/live/" + stream + ".ts");
  try {
    r.connect();
  } catch (const std::exception& e) {
    w.error = e.what();
    return w;
  }
  w.seconds = collect(r, 10000, ms);
  w.error = r.error();
  w.decoded = decode_ts(r.body());
  return w;
}

/// Asserts that a watch decoded at least 90 % of the frames its duration should hold.
void expect_full_rate(const Watch& w, const std::string& what) {
  BOOST_TEST_MESSAGE(what << ": " << w.decoded.summary() << " over " << w.seconds << " s");
  BOOST_TEST_REQUIRE(w.seconds > 0, what << ": no data (" << w.error << ")");
  BOOST_TEST(w.decoded.codec == "mpeg1video", what);
  BOOST_TEST(w.decoded.frames_decoded >= 0.9 * kFps * w.seconds,
             what << ": decoded " << w.decoded.frames_decoded << " frames in " << w.seconds << " s");
}

/// The `push` entry of relay `r`'s /api/v1/node whose url starts with `prefix` (null when none).
nlohmann::json push_stats(const RelayProcess& r, const std::string& prefix) {
  const nlohmann::json node = r.api("/api/v1/node");
  if (node.contains("push")) {
    for (const auto& p : node["push"]) {
      if (p.value("url", "").rfind(prefix, 0) == 0) return p;
    }
  }
  return nullptr;
}

/// True when the kernel routes `kGroup` from 127.0.0.1 through `lo` (so the test's multicast
/// never leaves the machine); `why` says what it found otherwise.
bool multicast_stays_on_loopback(std::string& why) {
  Process ip("ip-route", {"ip", "route", "get", kGroup, "from", "127.0.0.1"});
  for (int i = 0; i < 50 && ip.running(); ++i) std::this_thread::sleep_for(20ms);
  const std::string out = ip.log_text();
  if (std::regex_search(out, std::regex("\\bdev lo\\b"))) return true;
  why = "`ip route get " + std::string(kGroup) + " from 127.0.0.1` does not answer `dev lo`: " + out;
  return false;
}

/// A UDP socket on 127.0.0.1 that counts the sizes of the datagrams it receives.
class DatagramCounter {
 public:
  DatagramCounter() : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    timeval tv{0, 100000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~DatagramCounter() { close(fd_); }
  uint16_t port() const { return port_; }
  /// Reads for `ms`; returns datagram size → count.
  std::map<size_t, int> read_for(int ms) {
    std::map<size_t, int> sizes;
    uint8_t buf[65536];
    const auto end = SteadyClock::now() + std::chrono::milliseconds(ms);
    while (SteadyClock::now() < end) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) ++sizes[static_cast<size_t>(n)];
    }
    return sizes;
  }

 private:
  int fd_;
  uint16_t port_ = 0;
};

bool libavformat_has_output_protocol(const char* name) {
  void* opaque = nullptr;
  while (const char* p = avio_enum_protocols(&opaque, 1)) {
    if (std::string(p) == name) return true;
  }
  return false;
}

/// srt-live-transmit listening for an SRT caller on `srt_port` and sending the TS to `udp_port`.
std::unique_ptr<Process> srt_listener(uint16_t srt_port, uint16_t udp_port, const std::string& name) {
  return std::make_unique<Process>(
      name, std::vector<std::string>{"srt-live-transmit", "-q",
                                     "srt://:" + std::to_string(srt_port) + "?mode=listener&passphrase=" + kPassphrase,
                                     "udp://127.0.0.1:" + std::to_string(udp_port)});
}

}  // namespace

BOOST_AUTO_TEST_CASE(udp_unicast_and_multicast_push_reach_a_second_relay) {
  std::string no_multicast;
  const bool multicast = multicast_stays_on_loopback(no_multicast);
  if (!multicast) BOOST_TEST_MESSAGE("multicast part skipped: " << no_multicast);

  const uint16_t uni = free_port(), multi = free_port();
  RelayProcess b("ingest = { udp = ( { listen = \"127.0.0.1:" + std::to_string(uni) + "\"; stream = \"uni\"; }" +
                     (multicast ? ",\n { listen = \"127.0.0.1:" + std::to_string(multi) + "\"; stream = \"multi\"; " +
                                      "multicast_group = \"" + kGroup + "\"; }"
                                : std::string()) +
                     " ); };\n",
                 "udp-relay-b");
  DatagramCounter raw;
  std::string push = "push = ( { stream = \"cam1\"; url = \"udp://127.0.0.1:" + std::to_string(uni) + "?pkt_size=1316\"; },\n"
                     "         { stream = \"cam1\"; url = \"udp://127.0.0.1:" + std::to_string(raw.port()) + "\"; }";
  if (multicast) {
    push += ",\n         { stream = \"cam1\"; url = \"udp://" + std::string(kGroup) + ":" + std::to_string(multi) +
            "?ttl=1&localaddr=127.0.0.1\"; }";
  }
  RelayProcess a(push + " );\n", "udp-relay-a");
  BOOST_TEST(a.proc().wait_for_log("push cam1 to udp://127.0.0.1:.*: waiting for local data \\(udp link", 1000));
  auto capture = start_capture("http://127.0.0.1:" + std::to_string(a.ingest_port()) + "/publish/cam1");
  a.wait_live("cam1");
  b.wait_live("uni");
  if (multicast) b.wait_live("multi");

  // Datagrams of whole TS packets, 7 a datagram (a chunk's last one may hold fewer).
  const std::map<size_t, int> sizes = raw.read_for(1500);
  int full = 0, total = 0;
  for (const auto& [size, count] : sizes) {
    BOOST_TEST(size % 188 == 0u, "datagram of " << size << " bytes");
    BOOST_TEST(size <= 1316u, "datagram of " << size << " bytes");
    total += count;
    if (size == 1316) full = count;
  }
  BOOST_TEST_MESSAGE("udp datagrams: " << total << ", of 1316 bytes: " << full);
  BOOST_TEST(total > 50);
  BOOST_TEST(full >= 0.7 * total);

  // Both of B's streams at once, through HTTP-TS viewers.
  Watch w_uni, w_multi;
  std::thread t([&] { w_uni = watch(b.viewer_port(), "uni", 3000); });
  if (multicast) w_multi = watch(b.viewer_port(), "multi", 3000);
  t.join();
  expect_full_rate(w_uni, "B's viewer of the unicast push");
  if (multicast) expect_full_rate(w_multi, "B's viewer of the multicast push");

  const nlohmann::json link = push_stats(a, "udp://127.0.0.1:" + std::to_string(uni));
  BOOST_TEST_REQUIRE(link.is_object(), "no push stats: " << a.api("/api/v1/node").dump());
  BOOST_TEST(link["connected"] == true);
  BOOST_TEST(link["connects"] == 1);
  BOOST_TEST(link["failures"] == 0);
  BOOST_TEST(link.value("bytes_out", 0.0) > 100000);
  BOOST_TEST(link["dropped_gops"] == 0);
  BOOST_TEST(link["stream"] == "cam1");
  BOOST_TEST(a.proc().log_text().find("<4>push") == std::string::npos, "warnings from A's links:\n" << a.proc().log_text());
}

BOOST_AUTO_TEST_CASE(srt_push_reaches_srt_live_transmit_and_reconnects) {
  BOOST_TEST_REQUIRE(libavformat_has_output_protocol("srt"),
                     "this libavformat has no srt output protocol (Debian's is built with libsrt)");
  const uint16_t srt_port = free_port(), udp_port = free_port();
  // publisher_timeout_s = 1: the restarted srt-live-transmit sends from another UDP port, which B
  // takes for a new publisher only once the old one has been silent that long.
  RelayProcess b("ingest = { publisher_timeout_s = 1;\n udp = ( { listen = \"127.0.0.1:" + std::to_string(udp_port) +
                     "\"; stream = \"srtcam\"; } ); };\n",
                 "srt-relay-b");
  auto far_end = srt_listener(srt_port, udp_port, "srt-live-transmit-1");
  std::this_thread::sleep_for(300ms);
  BOOST_TEST_REQUIRE(far_end->running(), "srt-live-transmit did not start (scripts/install-deps.sh installs srt-tools): "
                                             << far_end->log_text());
  RelayProcess a("push = ( { stream = \"cam1\"; url = \"srt://127.0.0.1:" + std::to_string(srt_port) +
                     "?latency=200000&passphrase=" + kPassphrase + "\"; } );\n",
                 "srt-relay-a");
  auto capture = start_capture("http://127.0.0.1:" + std::to_string(a.ingest_port()) + "/publish/cam1");
  BOOST_TEST_REQUIRE(a.proc().wait_for_log("push cam1 to srt://.*passphrase=\\*\\*\\*: connected", 10000));
  b.wait_live("srtcam");
  expect_full_rate(watch(b.viewer_port(), "srtcam", 3000), "B's viewer behind SRT");
  nlohmann::json link = push_stats(a, "srt://");
  BOOST_TEST_REQUIRE(link.is_object(), "no push stats: " << a.api("/api/v1/node").dump());
  BOOST_TEST(link["url"] == "srt://127.0.0.1:" + std::to_string(srt_port) + "?latency=200000&passphrase=***");
  BOOST_TEST(link["connected"] == true);
  BOOST_TEST(link.value("bytes_out", 0.0) > 100000);

  // The far end dies without a word (SIGKILL): the link notices (SRT's peer idle timeout) and
  // retries with backoff, while a viewer of A keeps decoding at full rate.
  const size_t mark = a.proc().log_size();
  far_end->kill_hard();
  const auto killed = SteadyClock::now();
  Watch during;
  std::thread viewer([&] { during = watch(a.viewer_port(), "cam1", 4000); });
  BOOST_TEST(a.proc().wait_for_log("push cam1 to srt://.*: lost: ", 10000, mark), "A did not notice the far end die");
  const int64_t noticed_ms = ms_since(killed);
  viewer.join();
  BOOST_TEST_MESSAGE("SRT far end killed: link lost after " << noticed_ms << " ms");
  expect_full_rate(during, "A's viewer while the SRT far end is down");
  BOOST_TEST(push_stats(a, "srt://")["connected"] == false);

  std::this_thread::sleep_for(5s);  // failed attempts against the closed port push the backoff towards its cap
  far_end = srt_listener(srt_port, udp_port, "srt-live-transmit-2");
  const auto restarted = SteadyClock::now();
  const int64_t bound_ms = kReconnectMaxMs * 12 / 10 + 3000;  // the longest backoff delay (+20 % jitter) + a connect
  BOOST_TEST_REQUIRE(a.proc().wait_for_log("push cam1 to srt://.*: connected", static_cast<int>(bound_ms) + 2000, mark),
                     "the link did not come back");
  const int64_t back_ms = ms_since(restarted);
  BOOST_TEST_MESSAGE("SRT far end restarted: link connected again after " << back_ms << " ms (bound " << bound_ms << " ms)");
  BOOST_TEST(back_ms <= bound_ms);
  expect_full_rate(watch(b.viewer_port(), "srtcam", 2000), "B's viewer after the SRT reconnect");

  // One line per change: "lost", at most one "connect failed", then "connected".
  const std::string tail = a.proc().log_text().substr(mark);
  BOOST_TEST(count_lines(tail, "^<4>push cam1 to srt://") <= 2, "warnings for one outage:\n" << tail);
  BOOST_TEST(count_lines(tail, "^<5>push cam1 to srt://.*: connected") == 1, tail);
  BOOST_TEST(a.proc().log_text().find(kPassphrase) == std::string::npos, "the passphrase reached the log");
  link = push_stats(a, "srt://");
  BOOST_TEST_MESSAGE("SRT link after the outage: " << link.dump());
  BOOST_TEST(link["connects"] == 2);
  BOOST_TEST(link.value("failures", 0) >= 1);
  BOOST_TEST(link["last_error"].is_string());
}
