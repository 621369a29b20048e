// mpegcast-capture's targets that libavformat carries, against receivers that are not our relay:
// - srt:// (caller) to Debian's `srt-live-transmit` listening on 127.0.0.1, which hands the TS on
//   over UDP to a socket of this test. The far end is killed and restarted: the agent reconnects
//   and the stream decodes again; the per-target counters (connects, failures, bytes sent) show in
//   the status line and in sd_notify STATUS= (NOTIFY_SOCKET is a unix datagram socket of the test).
// - udp:// multicast (ttl=0, out of 127.0.0.1) to a socket of the test joined to the group on the
//   loopback interface (IP_ADD_MEMBERSHIP on 127.0.0.1). With root it runs in a network namespace
//   of its own, whose `lo` also gets the MULTICAST flag (this kernel delivers without it: bound to
//   127.0.0.1, the sender's datagrams go out of `lo` whatever its flags; others may want it), so
//   nothing else on the machine sees the group; without root, on the host's `lo` (ttl=0 keeps the
//   datagrams on this machine), never changing the host's interfaces.
// Every check decodes what arrived (libav*) at the configured size.
// Measured here: 101 frames decoded in 4.0 s through srt-live-transmit; the killed far end noticed
// after 5.1 s (SRT's peer idle timeout), the agent connected again 0.04-0.19 s after the restart;
// 76 frames in 3.0 s from the multicast group. ~18 s in all.
#define BOOST_TEST_MODULE test_capture_targets
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libavformat/avio.h>
}

#include "decode_ts.h"
#include "free_port.h"
#include "netns.h"
#include "process.h"
#include "relay_process.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr double kFps = 25;
constexpr int kWidth = 320, kHeight = 240;
constexpr int64_t kReconnectMaxMs = 1000;  // target_defaults.reconnect_max_ms below
constexpr const char* kGroup = "239.255.42.1";
constexpr const char* kPassphrase = "capture-s3cret";  // SRT: 10 to 79 characters

const std::string kConf = "status_interval_s = 1;\n"
                          "output = { width = " + std::to_string(kWidth) + "; height = " + std::to_string(kHeight) +
                          "; framerate = 25; };\n"
                          "target_defaults = { reconnect_initial_ms = 100; reconnect_max_ms = " +
                          std::to_string(kReconnectMaxMs) + "; };\n";

/// `text` with the characters ECMAScript regexes treat specially escaped.
std::string regex_escape(const std::string& text) {
  return std::regex_replace(text, std::regex("[.?*+^$()\\[\\]{}|\\\\]"), "\\$&");
}

double secs_since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

/// mpegcast-capture sending a 640x480 25 fps test pattern, encoded at 320x240, to `target`;
/// `prefix` goes in front of its argv (e.g. `ip netns exec NS`).
std::unique_ptr<Process> capture(const std::string& tag, const std::string& target,
                                 std::vector<std::string> prefix = {}) {
  const std::string conf = test_log_dir() + "/" + tag + ".conf";
  std::ofstream(conf) << kConf;
  std::vector<std::string> argv = std::move(prefix);
  for (const char* a : {MPEGCAST_CAPTURE_BIN, "-c"}) argv.push_back(a);
  for (const std::string& a : {conf, std::string("--input"), std::string("lavfi:testsrc2=size=640x480:rate=25"),
                               std::string("--target"), target})
    argv.push_back(a);
  return std::make_unique<Process>(tag, argv);
}

/// A UDP socket whose thread keeps reading (so the kernel buffer never overflows while the test
/// looks elsewhere) and keeps the TS it received since the last take(), with its datagram sizes.
class UdpReceiver {
 public:
  /// Bound to 127.0.0.1 on a port the kernel picks, or, with `group`, to `group` and joined to it
  /// on the interface of 127.0.0.1 (IP_ADD_MEMBERSHIP). Opened in the calling thread's namespace.
  explicit UdpReceiver(const char* group = nullptr) : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    BOOST_TEST_REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = group ? inet_addr(group) : htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "bind: " << strerror(errno));
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (group) {
      ip_mreq m{};
      m.imr_multiaddr.s_addr = inet_addr(group);
      m.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
      BOOST_TEST_REQUIRE(setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0,
                         "IP_ADD_MEMBERSHIP " << group << " on 127.0.0.1: " << strerror(errno));
    }
    thread_ = std::thread([this] { run(); });
  }
  ~UdpReceiver() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

  struct Taken {
    std::vector<uint8_t> ts;
    std::map<size_t, int> sizes;  // datagram size → count
    double seconds = 0;           // first datagram → take()
  };
  /// What arrived since the previous take() (or construction).
  Taken take() {
    std::lock_guard<std::mutex> lock(mu_);
    Taken t;
    t.ts.swap(ts_);
    t.sizes.swap(sizes_);
    if (first_) t.seconds = secs_since(*first_);
    first_.reset();
    return t;
  }
  /// Drops what arrived so far.
  void clear() { take(); }
  /// Waits up to `timeout_ms` for a datagram to arrive after the last take().
  bool wait_data(int timeout_ms) {
    for (int i = 0; i < timeout_ms / 20; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (first_) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  void run() {
    std::vector<uint8_t> buf(65536);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (!first_) first_ = SteadyClock::now();
      ts_.insert(ts_.end(), buf.begin(), buf.begin() + n);
      ++sizes_[static_cast<size_t>(n)];
    }
  }

  int fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<uint8_t> ts_;
  std::map<size_t, int> sizes_;
  std::optional<SteadyClock::time_point> first_;
  std::thread thread_;
};

/// A unix datagram socket (abstract address) for sd_notify: set NOTIFY_SOCKET to address() in
/// the environment of the process that should report here.
class NotifySocket {
 public:
  NotifySocket() : fd_(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    BOOST_TEST_REQUIRE(fd_ >= 0);
    name_ = "mpegcast-test-notify-" + std::to_string(getpid());
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::copy(name_.begin(), name_.end(), a.sun_path + 1);  // sun_path[0] = 0: abstract
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name_.size());
    BOOST_TEST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0, "bind: " << strerror(errno));
  }
  ~NotifySocket() { close(fd_); }
  /// NOTIFY_SOCKET's value ("@" = abstract).
  std::string address() const { return "@" + name_; }
  /// Reads what arrived; returns every message so far, oldest first.
  const std::vector<std::string>& messages() {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof buf, 0)) > 0) messages_.emplace_back(buf, static_cast<size_t>(n));
    return messages_;
  }
  /// Waits (≤ `timeout_ms`) for the newest STATUS= text to match `pattern`; returns that text.
  std::string wait_status(const std::string& pattern, int timeout_ms) {
    const std::regex re(pattern);
    std::string s;
    for (int i = 0; i < timeout_ms / 50; ++i) {
      s = last_status();
      if (std::regex_search(s, re)) break;
      std::this_thread::sleep_for(50ms);
    }
    return s;
  }
  /// The newest STATUS= text ("" when none).
  std::string last_status() {
    std::string s;
    for (const std::string& m : messages()) {
      const size_t at = m.rfind("STATUS=", std::string::npos);
      if (at != std::string::npos && (at == 0 || m[at - 1] == '\n')) s = m.substr(at + 7, m.find('\n', at) - at - 7);
    }
    return s;
  }

 private:
  int fd_;
  std::string name_;
  std::vector<std::string> messages_;
};

/// Sets an environment variable for the processes started in this scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }
  const char* name_;
};

/// Asserts that `got` (all a receiver got from the start of a connection) decoded as MPEG-1 at the
/// configured size from its first video packet on, with ≥ 90 % of the frames its duration should
/// hold; returns the number of pictures.
int expect_full_rate(const UdpReceiver::Taken& got, const std::string& what) {
  const DecodeResult d = decode_ts(got.ts);
  static int n = 0;  // what arrived, kept for a look with ffprobe when something fails
  const std::string kept = test_log_dir() + "/capture-targets-" + std::to_string(++n) + ".ts";
  std::ofstream(kept, std::ios::binary).write(reinterpret_cast<const char*>(got.ts.data()),
                                              static_cast<std::streamsize>(got.ts.size()));
  BOOST_TEST_MESSAGE(what << ": " << d.summary() << " from " << got.ts.size() << " bytes over " << got.seconds
                          << " s (" << kept << ")");
  BOOST_TEST_REQUIRE(got.seconds > 1.0, what << ": no data");
  BOOST_TEST(d.codec == "mpeg1video", what);
  BOOST_TEST(d.width == kWidth, what);
  BOOST_TEST(d.height == kHeight, what);
  BOOST_TEST(d.first_frame_packet_index == 0, what << ": the first video packet received does not decode");
  BOOST_TEST(d.frames_decoded >= 0.9 * kFps * got.seconds,
             what << ": decoded " << d.frames_decoded << " frames in " << got.seconds << " s");
  return d.frames_decoded;
}

/// The counters of target `url` in the agent's newest status line.
struct TargetCounters {
  bool found = false;
  std::string state;
  long long sent_kb = 0, connects = 0, failures = 0, dropped_gops = 0;
};
TargetCounters last_status_of(const std::string& log, const std::string& url) {
  TargetCounters c;
  const std::regex re("; target " + regex_escape(url) +
                      " ([a-z]+), queued -?[0-9]+ ms, dropped ([0-9]+) GOPs, sent ([0-9]+) kB, connects ([0-9]+), "
                      "failures ([0-9]+)");
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    c.found = true;
    c.state = (*it)[1];
    c.dropped_gops = std::stoll((*it)[2]);
    c.sent_kb = std::stoll((*it)[3]);
    c.connects = std::stoll((*it)[4]);
    c.failures = std::stoll((*it)[5]);
  }
  return c;
}

/// Waits (≤ `timeout_ms`) for a status line newer than `from` whose counters for `url` satisfy `ok`.
template <class Ok>
TargetCounters wait_status(Process& agent, const std::string& url, size_t from, int timeout_ms, Ok ok) {
  TargetCounters c;
  for (int i = 0; i < timeout_ms / 100; ++i) {
    c = last_status_of(agent.log_text().substr(from), url);
    if (c.found && ok(c)) break;
    std::this_thread::sleep_for(100ms);
  }
  return c;
}

bool libavformat_has_output_protocol(const char* name) {
  void* opaque = nullptr;
  while (const char* p = avio_enum_protocols(&opaque, 1)) {
    if (std::string(p) == name) return true;
  }
  return false;
}

/// srt-live-transmit listening on 127.0.0.1:`srt_port` and sending what it receives to
/// 127.0.0.1:`udp_port`; with `check`, REQUIREs it to be running 300 ms later.
std::unique_ptr<Process> srt_listener(uint16_t srt_port, uint16_t udp_port, const std::string& name,
                                      bool check = true) {
  auto p = std::make_unique<Process>(
      name, std::vector<std::string>{"srt-live-transmit", "-q",
                                     "srt://127.0.0.1:" + std::to_string(srt_port) + "?mode=listener&passphrase=" +
                                         kPassphrase,
                                     "udp://127.0.0.1:" + std::to_string(udp_port)});
  if (!check) return p;
  std::this_thread::sleep_for(300ms);
  BOOST_TEST_REQUIRE(p->running(), "srt-live-transmit did not start (scripts/install-deps.sh installs srt-tools): "
                                       << p->log_text());
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(srt_target_to_srt_live_transmit_reconnects_after_a_restart) {
  BOOST_TEST_REQUIRE(libavformat_has_output_protocol("srt"),
                     "this libavformat has no srt output protocol (Debian's is built with libsrt)");
  UdpReceiver udp;
  NotifySocket notify;
  const uint16_t srt_port = free_port();
  auto far_end = srt_listener(srt_port, udp.port(), "srt-live-transmit-1");
  const std::string url = "srt://127.0.0.1:" + std::to_string(srt_port) + "?mode=caller&latency=120000&passphrase=";
  const std::string logged_url = url + "***";  // as logs and status lines show it
  std::unique_ptr<Process> agent;
  {
    ScopedEnv env("NOTIFY_SOCKET", notify.address());
    agent = capture("capture-srt", url + kPassphrase);
  }
  BOOST_TEST_REQUIRE(agent->wait_for_log("target " + regex_escape(logged_url) + ": connected", 10000),
                     "the agent did not connect to srt-live-transmit");
  // From the first datagram on: the agent starts a new connection at a keyframe, behind PAT/PMT.
  BOOST_TEST_REQUIRE(udp.wait_data(5000), "nothing came out of srt-live-transmit");
  std::this_thread::sleep_for(4s);
  const int frames1 = expect_full_rate(udp.take(), "through srt-live-transmit");

  TargetCounters c = wait_status(*agent, logged_url, 0, 3000, [](const TargetCounters& t) { return t.sent_kb > 100; });
  BOOST_TEST_MESSAGE("status before the restart: " << c.state << ", sent " << c.sent_kb << " kB, connects "
                                                    << c.connects << ", failures " << c.failures);
  BOOST_TEST_REQUIRE(c.found, "no status line for the target:\n" << agent->log_text());
  BOOST_TEST(c.state == "connected");
  BOOST_TEST(c.connects == 1);
  BOOST_TEST(c.failures == 0);
  BOOST_TEST(c.dropped_gops == 0);
  const std::string ok1 = "connected \\(sent [1-9][0-9]* kB, connects 1, failures 0\\)";
  std::string status = notify.wait_status(ok1, 2000);
  BOOST_TEST_MESSAGE("STATUS= " << status);
  BOOST_TEST(std::regex_search(status, std::regex(ok1)), status);

  // The far end dies without a word (SIGKILL): the agent notices (SRT's peer idle timeout, 5 s:
  // nothing answers a sender, so only silence tells) and retries, and the status line says so.
  const size_t mark = agent->log_size();
  far_end->kill_hard();
  const auto killed = SteadyClock::now();
  BOOST_TEST_REQUIRE(agent->wait_for_log("target srt://.*: lost: ", 10000, mark),
                     "the agent did not notice the far end die");
  const double lost_s = secs_since(killed);
  c = wait_status(*agent, logged_url, agent->log_size(), 3000,
                  [](const TargetCounters& t) { return t.state != "connected"; });
  BOOST_TEST_MESSAGE("status while the far end is down: " << c.state << ", sent " << c.sent_kb << " kB, connects "
                                                          << c.connects << ", failures " << c.failures);
  BOOST_TEST((c.state == "connecting" || c.state == "down"), c.state);
  BOOST_TEST(c.connects == 1);
  BOOST_TEST(c.failures >= 1);
  const std::string down = "(connecting|down) \\(sent [0-9]+ kB, connects 1, failures [1-9]";
  status = notify.wait_status(down, 2000);
  BOOST_TEST_MESSAGE("STATUS= " << status);
  BOOST_TEST(std::regex_search(status, std::regex(down)), status);

  // Back on the same port: the agent connects again within one backoff delay (reconnect_max_ms
  // + 20 % jitter) and an SRT handshake; a caller's attempt in progress takes the listener at once.
  udp.clear();  // nothing arrives until the agent has connected to the new far end
  const auto restarted = SteadyClock::now();
  far_end = srt_listener(srt_port, udp.port(), "srt-live-transmit-2", false);
  BOOST_TEST_REQUIRE(agent->wait_for_log("target srt://.*: connected", 10000, mark), "the agent did not reconnect");
  const double back_s = secs_since(restarted);
  BOOST_TEST_REQUIRE(far_end->running(), "srt-live-transmit did not restart: " << far_end->log_text());
  BOOST_TEST_MESSAGE("srt-live-transmit killed: the agent noticed after "
                     << lost_s << " s; restarted " << std::chrono::duration<double>(restarted - killed).count()
                     << " s after the kill: the agent connected again " << back_s << " s after the restart");
  BOOST_TEST(back_s <= kReconnectMaxMs * 1.2 / 1000 + 1.0);
  BOOST_TEST(agent->running());

  BOOST_TEST_REQUIRE(udp.wait_data(5000), "nothing came out of the restarted srt-live-transmit");
  std::this_thread::sleep_for(3s);
  const int frames2 = expect_full_rate(udp.take(), "through the restarted srt-live-transmit");

  c = wait_status(*agent, logged_url, mark, 3000, [](const TargetCounters& t) { return t.connects == 2; });
  BOOST_TEST_MESSAGE("status after the restart: " << c.state << ", sent " << c.sent_kb << " kB, connects " << c.connects
                                                   << ", failures " << c.failures << "; frames decoded " << frames1
                                                   << " before, " << frames2 << " after");
  BOOST_TEST(c.state == "connected");
  BOOST_TEST(c.connects == 2);
  BOOST_TEST(c.failures >= 1);
  const std::string ok2 = "connected \\(sent [0-9]+ kB, connects 2, failures [1-9][0-9]*\\)";
  status = notify.wait_status(ok2, 2000);
  BOOST_TEST_MESSAGE("STATUS= " << status);
  BOOST_TEST(std::regex_search(status, std::regex(ok2)), status);
  const std::string tail = agent->log_text().substr(mark);
  BOOST_TEST(count_lines(tail, "^<4>target srt://") <= 2, "warnings for one outage:\n" << tail);
  std::string log = agent->log_text();
  log = log.substr(log.find('\n') + 1);  // not the command line the test wrote
  BOOST_TEST(log.find(kPassphrase) == std::string::npos, "the passphrase reached the log");
  for (const std::string& m : notify.messages()) BOOST_TEST(m.find(kPassphrase) == std::string::npos, m);
  BOOST_TEST(agent->stop() == 0);
}

BOOST_AUTO_TEST_CASE(multicast_udp_target_reaches_a_group_member_on_loopback) {
  std::unique_ptr<NetNamespace> ns;
  const std::string no_ns = netns_unavailable();
  if (no_ns.empty()) {
    ns = std::make_unique<NetNamespace>("mcast");
    must_run({"ip", "-n", ns->name(), "link", "set", "lo", "multicast", "on"});
  } else {
    BOOST_TEST_MESSAGE("no network namespace (" << no_ns << "): the group is joined on the host's lo");
  }
  std::unique_ptr<UdpReceiver> rx;
  {
    NetnsScope inside(ns ? ns->name() : "");
    rx = std::make_unique<UdpReceiver>(kGroup);
  }
  const std::string url = std::string("udp://") + kGroup + ":" + std::to_string(rx->port()) +
                          "?ttl=0&localaddr=127.0.0.1&pkt_size=1316";
  auto agent = capture("capture-multicast", url, ns ? ns->exec({}) : std::vector<std::string>{});
  // From the first datagram on: the receiver was a member before the agent sent anything.
  BOOST_TEST_REQUIRE(rx->wait_data(10000), "no multicast datagram arrived; agent log:\n" << agent->log_text());
  std::this_thread::sleep_for(3s);
  const UdpReceiver::Taken got = rx->take();
  expect_full_rate(got, "multicast group member");
  int total = 0, full = 0;
  for (const auto& [size, count] : got.sizes) {
    BOOST_TEST(size % 188 == 0u, "datagram of " << size << " bytes");
    BOOST_TEST(size <= 1316u, "datagram of " << size << " bytes");
    total += count;
    if (size == 1316) full = count;
  }
  BOOST_TEST_MESSAGE("multicast datagrams: " << total << ", of 1316 bytes: " << full);
  BOOST_TEST(full >= 0.7 * total);

  const TargetCounters c = wait_status(*agent, url, 0, 3000, [](const TargetCounters& t) { return t.sent_kb > 100; });
  BOOST_TEST_REQUIRE(c.found, "no status line for the target:\n" << agent->log_text());
  BOOST_TEST(c.state == "connected");
  BOOST_TEST(c.connects == 1);
  BOOST_TEST(c.failures == 0);
  BOOST_TEST(agent->stop() == 0);
}
