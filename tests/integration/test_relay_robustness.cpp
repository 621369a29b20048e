// Relay robustness (issue 3): a second publisher, a publisher restart, garbage input, oversized and
// never-ending request heads on the ingest port, stalled viewers and the per-stream viewer limit.
// Each case runs a real mpegcast-relay and mpegcast-capture on loopback ports and checks what the
// viewers of cam1 received by demuxing and decoding it.
#define BOOST_TEST_MODULE test_relay_robustness
#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "collect.h"
#include "decode_ts.h"
#include "free_port.h"
#include "http_get.h"
#include "http_message.h"
#include "http_stream_reader.h"
#include "process.h"
#include "relay_stack.h"
#include "sanitizer.h"
#include "tcp_socket.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

constexpr double kFps = 25.0;

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// A WebSocket viewer read on its own thread until stop(), so the test thread can attack the relay.
class BackgroundViewer {
 public:
  BackgroundViewer(uint16_t port, const std::string& path) : ws_(port, path) {}
  ~BackgroundViewer() { stop(); }
  bool connect() { return ws_.connect(); }
  void start() {
    start_ = Clock::now();
    th_ = std::thread([this] {
      while (!stop_) {
        if (!ws_.read_for(100)) { failed_ = true; break; }
        bytes_ = ws_.data().size();
      }
    });
  }
  /// Stops reading; returns the seconds read.
  double stop() {
    if (th_.joinable()) {
      stop_ = true;
      th_.join();
      secs_ = secs_since(start_);
    }
    return secs_;
  }
  size_t bytes() const { return bytes_; }
  bool failed() const { return failed_; }
  WsClient& ws() { return ws_; }  // only after stop()

 private:
  WsClient ws_;
  std::thread th_;
  std::atomic<bool> stop_{false}, failed_{false};
  std::atomic<size_t> bytes_{0};
  Clock::time_point start_{};
  double secs_ = 0;
};

/// The stream a viewer received over `secs` seconds decodes at >= 90 % of 25 fps without errors.
void expect_decodes(const std::vector<uint8_t>& bytes, double secs, const std::string& what) {
  auto r = decode_ts(bytes);
  const double expected = kFps * secs;
  BOOST_TEST_MESSAGE(what << ": " << bytes.size() << " bytes in " << secs << " s; " << r.summary());
  BOOST_TEST(r.opened, what << ": no video stream: " << r.error_text);
  BOOST_TEST(r.frames_decoded >= 0.9 * expected,
             what << ": decoded " << r.frames_decoded << " frames, expected >= 90 % of " << expected);
  BOOST_TEST(r.errors == 0, what << ": " << r.errors << " decode errors: " << r.error_text);
}

/// Reads a response head (or the close) from `s` until `timeout_ms`. Returns the status code,
/// 0 when the peer closed without a head, -1 on timeout.
int read_status(TcpSocket& s, int timeout_ms, std::string* head_out = nullptr) {
  std::vector<uint8_t> buf;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t tmp[4096];
  for (;;) {
    long n = s.read_some(tmp, sizeof tmp, deadline);
    if (n < 0) return -1;
    if (n == 0) break;
    buf.insert(buf.end(), tmp, tmp + n);
    if (find_head_end(buf)) break;
  }
  if (buf.empty()) return 0;
  std::string head(buf.begin(), buf.end());
  if (head_out) *head_out = head.substr(0, head.find("\r\n\r\n"));
  HttpHeaders h;
  return parse_response_head(head.substr(0, head.find("\r\n\r\n")), h);
}

nlohmann::json get_json(uint16_t port, const std::string& path) {
  auto r = http_get(port, path, 2000);
  if (r.status != 200) return nlohmann::json::object();
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

double num(const nlohmann::json& j, const char* key, double dflt = -1) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : dflt;
}

/// VmRSS of `pid` in KiB, -1 if unreadable.
long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int count_lines(const std::string& text, const std::string& pattern) {
  std::regex re(pattern);
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += std::regex_search(line, re);
  return n;
}

/// A relay started with conf/relay.conf plus an override file, and a capture publishing cam1.
struct ConfiguredStack {
  uint16_t viewer_port = free_port(), ingest_port = free_port();
  std::unique_ptr<Process> relay, capture;

  explicit ConfiguredStack(const std::string& overrides, const std::string& tag) {
    while (ingest_port == viewer_port) ingest_port = free_port();
    // Every relay.conf key is optional with the default relay.conf shows, so the overrides alone are the file.
    const std::string conf = test_log_dir() + "/test_relay_robustness-" + tag + ".conf";
    std::ofstream(conf) << overrides;
    relay = std::make_unique<Process>(
        "relay", std::vector<std::string>{MPEGCAST_RELAY_BIN, "-c", conf, "--listen",
                                          "127.0.0.1:" + std::to_string(viewer_port), "--ingest-listen",
                                          "127.0.0.1:" + std::to_string(ingest_port), "--web-root", MPEGCAST_WEB_ROOT});
    BOOST_TEST_REQUIRE(relay->wait_for_log("ready", 10000), "relay not ready; log: " << relay->log_path());
    capture = std::make_unique<Process>(
        "capture", std::vector<std::string>{MPEGCAST_CAPTURE_BIN, "-c", MPEGCAST_SOURCE_DIR "/conf/capture.conf",
                                            "--input", "lavfi:testsrc2=size=640x480:rate=25", "--target",
                                            "http://127.0.0.1:" + std::to_string(ingest_port) + "/publish/cam1"});
    wait_live();
  }
  ~ConfiguredStack() {
    capture.reset();
    relay.reset();
  }
  nlohmann::json stream(const std::string& name) {
    return RelayStack::find_stream(get_json(viewer_port, "/api/v1/streams"), name);
  }
  void wait_live() {
    auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      BOOST_TEST_REQUIRE(capture->running(), "capture exited; log: " << capture->log_path());
      BOOST_TEST_REQUIRE(relay->running(), "relay exited; log: " << relay->log_path());
      if (num(stream("cam1"), "bytes_in", 0) > 0) return;
      std::this_thread::sleep_for(100ms);
    }
    BOOST_TEST_REQUIRE(false, "cam1 not live within 10 s");
  }
};

const std::string kChunkedPostHead = "Host: 127.0.0.1\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

// 1. A second publisher on a live stream gets 409; the first keeps publishing and viewers keep decoding.
BOOST_AUTO_TEST_CASE(second_publisher_is_refused_with_409) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  BOOST_TEST_REQUIRE(s.wait_live());
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), "handshake: " << ws.error());
  BOOST_TEST_REQUIRE(collect(ws, 5000, 1000) > 0, "no data before the second publisher");

  const size_t log_at = s.relay()->log_size();
  auto sock = TcpSocket::connect_loopback(s.ingest_port(), 3000);
  sock.write_all("POST /publish/cam1 HTTP/1.1\r\n" + kChunkedPostHead);
  const auto t0 = Clock::now();
  std::string head;
  const int status = read_status(sock, 3000, &head);
  BOOST_TEST_MESSAGE("second publisher: status " << status << " after " << secs_since(t0) * 1000 << " ms: " << head);
  BOOST_TEST(status == 409, "second POST /publish/cam1 got " << status << ": " << head);
  BOOST_TEST(head.rfind("HTTP/1.1 409", 0) == 0u, "response head: " << head);
  sock.close();
  BOOST_TEST(s.relay()->wait_for_log("refused: 409", 2000, log_at), "no 'refused: 409' log line");
  auto node = get_json(s.viewer_port(), "/api/v1/node");
  BOOST_TEST(num(node, "ingest_refused", 0) >= 1, "ingest_refused: " << node.dump());

  // The first publisher and every viewer carry on.
  const auto first = *ws.first_byte_time();
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) BOOST_TEST_REQUIRE(ws.read_for(200), "viewer lost after the 409: " << ws.error());
  expect_decodes(ws.data(), std::chrono::duration<double>(Clock::now() - first).count(), "viewer across the 409");
  WsClient late(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(late.connect(), "handshake after the 409: " << late.error());
  double secs = collect(late, 3000, 3000);
  BOOST_TEST_REQUIRE(secs >= 3.0, "viewer after the 409 received " << secs << " s");
  expect_decodes(late.data(), secs, "viewer after the 409");
  BOOST_TEST(s.capture()->running(), "capture exited after the second publisher was refused");
}

// 2. The publisher goes away and comes back: a WebSocket viewer stays connected and decodes again.
BOOST_AUTO_TEST_CASE(viewer_survives_publisher_restart) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  BOOST_TEST_REQUIRE(s.wait_live());
  WsClient ws(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(ws.connect(), "handshake: " << ws.error());
  BOOST_TEST_REQUIRE(collect(ws, 5000, 2000) > 0, "no data before the restart");
  const size_t before = ws.data().size();
  BOOST_TEST_MESSAGE("before the restart: " << before << " bytes; " << decode_ts(ws.data()).summary());

  const size_t log_at = s.relay()->log_size();
  s.capture()->stop();
  BOOST_TEST(s.relay()->wait_for_log("stream cam1: publisher (disconnected|finished)", 3000, log_at), "relay did not log the publisher leaving");
  // 3 s without a publisher: the viewer must stay connected.
  BOOST_TEST_REQUIRE(ws.read_for(3000), "viewer dropped while the publisher was away: " << ws.error()
                                                                                         << " close=" << ws.close_code());
  const size_t gap = ws.data().size();
  BOOST_TEST_MESSAGE("bytes while no publisher: " << gap - before);

  s.start_capture();
  auto deadline = Clock::now() + 10s;
  while (ws.data().size() == gap && Clock::now() < deadline)
    BOOST_TEST_REQUIRE(ws.read_for(100), "viewer dropped after the restart: " << ws.error());
  BOOST_TEST_REQUIRE(ws.data().size() > gap, "no data within 10 s of the new publisher");
  const auto resumed = Clock::now();
  while (Clock::now() < resumed + 3s) BOOST_TEST_REQUIRE(ws.read_for(200), "viewer dropped: " << ws.error());
  BOOST_TEST(ws.connected());
  BOOST_TEST(!ws.closed_by_server());
  std::vector<uint8_t> after(ws.data().begin() + static_cast<long>(gap), ws.data().end());
  BOOST_TEST_REQUIRE(after.size() % 188 == 0u, "data after the restart starts mid-packet");
  auto r = decode_ts(after);
  BOOST_TEST_MESSAGE("after the restart: " << after.size() << " bytes in 3 s; " << r.summary());
  BOOST_TEST(r.frames_decoded >= 0.9 * kFps * 3.0 - 25, "decoded only " << r.frames_decoded << " frames after the restart");
  BOOST_TEST(r.frames_decoded > 0);
}

// 3. Random bytes on a stream: the relay stays up, counts or refuses them, and cam1 is unaffected.
BOOST_AUTO_TEST_CASE(garbage_publisher_does_not_hurt_other_streams) {
  RelayStack s;
  s.start_relay();
  s.start_capture();
  BOOST_TEST_REQUIRE(s.wait_live());
  BackgroundViewer v(s.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(v.connect());
  v.start();
  std::this_thread::sleep_for(500ms);

  const size_t log_at = s.relay()->log_size();
  std::mt19937 rng(12345);
  std::vector<uint8_t> junk(256 * 1024);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  auto sock = TcpSocket::connect_loopback(s.ingest_port(), 3000);
  sock.write_all("POST /publish/junk HTTP/1.1\r\n" + kChunkedPostHead);
  bool write_failed = false;
  size_t sent = 0;
  try {
    for (size_t off = 0; off < junk.size(); off += 8192) {
      char line[32];
      snprintf(line, sizeof line, "%x\r\n", 8192);
      sock.write_all(line);
      sock.write_all(junk.data() + off, 8192);
      sock.write_all("\r\n");
      sent += 8192;
      std::this_thread::sleep_for(20ms);
    }
  } catch (const std::exception& e) {
    write_failed = true;
    BOOST_TEST_MESSAGE("junk write failed after " << sent << " bytes: " << e.what());
  }
  std::this_thread::sleep_for(500ms);
  auto junk_stream = RelayStack::find_stream(s.api_streams(), "junk");
  uint8_t tmp[512];
  const long rd = sock.valid() ? sock.read_some(tmp, sizeof tmp, Clock::now() + 200ms) : 0;
  const bool closed = write_failed || rd == 0;
  BOOST_TEST_MESSAGE("junk: sent " << sent << " bytes, connection " << (closed ? "closed" : "open") << ", stream: "
                                   << junk_stream.dump());
  const double discarded = num(junk_stream, "discarded_bytes", 0);
  BOOST_TEST((discarded > 0 || closed),
             "256 KiB of random bytes were neither counted as discarded nor refused: " << junk_stream.dump());
  if (!closed) BOOST_TEST(discarded >= 0.5 * sent, "discarded only " << discarded << " of " << sent << " random bytes");
  sock.close();
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(s.relay()->running(), "relay died on garbage input");
  const std::string log = s.relay()->log_text().substr(log_at);
  BOOST_TEST(count_lines(log, "ingest .*junk") >= 1, "relay log names no ingest event for junk:\n" << log);

  std::this_thread::sleep_for(2s);
  const double secs = v.stop();
  BOOST_TEST(!v.failed(), "cam1 viewer failed: " << v.ws().error());
  expect_decodes(v.ws().data(), secs, "cam1 viewer during junk");
}

// 4. Ingest heads: 1 MB of headers gets 431 (or a close) at once; a head sent at one byte per second
//    is closed after request_timeout_s; cam1 viewers see nothing of it.
BOOST_AUTO_TEST_CASE(oversized_and_slow_request_heads) {
  ConfiguredStack s(R"(limits = { request_timeout_s = 3; max_header_bytes = 8192; };)", "heads");
  BackgroundViewer v(s.viewer_port, "/live/cam1");
  BOOST_TEST_REQUIRE(v.connect());
  v.start();

  {  // 1 MB of headers
    auto sock = TcpSocket::connect_loopback(s.ingest_port, 3000);
    const auto t0 = Clock::now();
    std::string head = "POST /publish/big HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    const std::string pad = "X-Pad: " + std::string(1000, 'a') + "\r\n";
    int status = -1;
    size_t sent = 0;
    try {
      sock.write_all(head);
      while (sent < 1024 * 1024 && status < 0) {
        sock.write_all(pad, 2000);
        sent += pad.size();
        uint8_t peek;
        if (recv(sock.fd(), &peek, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) status = read_status(sock, 1000);
      }
    } catch (const std::exception& e) {
      BOOST_TEST_MESSAGE("1 MB head: write failed after " << sent << " bytes: " << e.what());
    }
    if (status < 0) status = read_status(sock, 3000);
    const double ms = secs_since(t0) * 1000;
    BOOST_TEST_MESSAGE("1 MB head: status " << status << " after " << sent << " header bytes, " << ms << " ms");
    BOOST_TEST((status == 431 || status == 0), "1 MB head answered " << status);
    BOOST_TEST(ms < 2000, "1 MB head took " << ms << " ms to refuse");
  }
  BOOST_TEST(s.relay->wait_for_log("refused: 431", 2000), "no 'refused: 431' log line");

  {  // slowloris: one byte a second, never finishing the head
    const size_t timeouts_before = static_cast<size_t>(num(get_json(s.viewer_port, "/api/v1/node"), "ingest_timeouts", 0));
    auto sock = TcpSocket::connect_loopback(s.ingest_port, 3000);
    const auto t0 = Clock::now();
    const std::string head = "POST /publish/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
    bool closed = false;
    size_t i = 0;
    while (!closed && secs_since(t0) < 10) {
      try {
        sock.write_all(&head[i++ % head.size()], 1, 1000);
      } catch (const std::exception&) {
        closed = true;
        break;
      }
      uint8_t buf[512];
      const auto next = Clock::now() + 1s;
      long n;
      while ((n = sock.read_some(buf, sizeof buf, next)) > 0) {
      }
      if (n == 0) closed = true;
    }
    const double secs = secs_since(t0);
    BOOST_TEST_MESSAGE("slowloris: closed=" << closed << " after " << secs << " s, " << i << " bytes sent");
    BOOST_TEST(closed, "a head trickled at 1 byte/s was still open after " << secs << " s");
    BOOST_TEST(secs <= 3.0 + 2.0, "slowloris closed after " << secs << " s, request_timeout_s is 3");
    BOOST_TEST(secs >= 2.0, "slowloris closed after only " << secs << " s");
    std::this_thread::sleep_for(300ms);
    const auto node = get_json(s.viewer_port, "/api/v1/node");
    BOOST_TEST_MESSAGE("node after slowloris: " << node.dump());
    // The request timeout runs from connect, so a trickled head is logged and counted as a timeout.
    BOOST_TEST(num(node, "ingest_timeouts", 0) >= timeouts_before + 1,
               "ingest_timeouts did not count the slow head: " << node.dump());
  }
  {  // a connection that sends nothing: closed after request_timeout_s, logged and counted
    const double timeouts_before = num(get_json(s.viewer_port, "/api/v1/node"), "ingest_timeouts", 0);
    const size_t log_at = s.relay->log_size();
    auto sock = TcpSocket::connect_loopback(s.ingest_port, 3000);
    const auto t0 = Clock::now();
    uint8_t buf[64];
    const long n = sock.read_some(buf, sizeof buf, t0 + 8s);
    const double secs = secs_since(t0);
    BOOST_TEST_MESSAGE("silent connection: read " << n << " after " << secs << " s");
    BOOST_TEST(n == 0, "silent ingest connection not closed within 8 s");
    BOOST_TEST((secs >= 2.0 && secs <= 5.0), "silent ingest connection closed after " << secs << " s");
    BOOST_TEST(s.relay->wait_for_log("no complete request within 3s", 2000, log_at), "no timeout log line");
    const auto node = get_json(s.viewer_port, "/api/v1/node");
    BOOST_TEST(num(node, "ingest_timeouts", 0) >= timeouts_before + 1, "ingest_timeouts: " << node.dump());
  }

  std::this_thread::sleep_for(1s);
  const double secs = v.stop();
  BOOST_TEST(s.relay->running());
  BOOST_TEST(!v.failed(), "cam1 viewer failed: " << v.ws().error());
  expect_decodes(v.ws().data(), secs, "cam1 viewer during bad heads");
}

// 5. Two viewers that never read are closed after stall_timeout_s; eight that read get the full
//    bitrate; the relay's memory stays bounded.
// 60 s with 20 % of the viewers never reading: 8 fast viewers, and 2 stalled ones that are
// replaced by 2 new stalled ones each time the relay closes them, so the share holds all along.
BOOST_AUTO_TEST_CASE(stalled_viewers_are_closed_fast_viewers_keep_full_rate) {
  constexpr int kFast = 8, kStalled = 2;
  constexpr double kRunS = 60, kStallTimeoutS = 5;
  ConfiguredStack s(R"(hub = { stall_timeout_s = 5; viewer_sndbuf_bytes = 16384; };)", "stall");
  std::vector<std::unique_ptr<BackgroundViewer>> fast;
  for (int i = 0; i < kFast; ++i) {
    fast.push_back(std::make_unique<BackgroundViewer>(s.viewer_port, "/live/cam1"));
    BOOST_TEST_REQUIRE(fast.back()->connect(), "fast viewer " << i << ": " << fast.back()->ws().error());
  }
  // A generation of stalled viewers: connected, then never read.
  std::vector<std::unique_ptr<WsClient>> stalled, closed_stalled;
  auto new_stalled_generation = [&] {
    for (auto& w : stalled) closed_stalled.push_back(std::move(w));
    stalled.clear();
    for (int i = 0; i < kStalled; ++i) {
      stalled.push_back(std::make_unique<WsClient>(s.viewer_port, "/live/cam1"));
      BOOST_TEST_REQUIRE(stalled.back()->connect(), "stalled viewer " << i << ": " << stalled.back()->error());
    }
  };
  new_stalled_generation();
  const auto t0 = Clock::now();
  for (auto& f : fast) f->start();

  long max_rss = 0, max_rss_first_half = 0, max_rss_second_half = 0;
  double generation_start = 0, stalls_expected = kStalled;
  std::vector<double> close_after_s;  // per generation: connect → the API counted both closes
  std::vector<size_t> bytes_at_2s(kFast);
  std::vector<double> rate_samples;
  nlohmann::json last;
  while (secs_since(t0) < kRunS) {
    const long rss = rss_kib(s.relay->pid());
    const double t = secs_since(t0);
    max_rss = std::max(max_rss, rss);
    (t < kRunS / 2 ? max_rss_first_half : max_rss_second_half) = std::max(t < kRunS / 2 ? max_rss_first_half : max_rss_second_half, rss);
    last = s.stream("cam1");
    if (t >= 2 && bytes_at_2s[0] == 0)
      for (int i = 0; i < kFast; ++i) bytes_at_2s[i] = fast[i]->bytes();
    if (t >= 2 && num(last, "bitrate_in_bps") > 0) rate_samples.push_back(num(last, "bitrate_in_bps"));
    if (num(last, "stalled_viewers_closed", 0) >= stalls_expected) {
      close_after_s.push_back(t - generation_start);
      generation_start = secs_since(t0);
      stalls_expected += kStalled;
      if (t < kRunS - kStallTimeoutS - 3) new_stalled_generation();
    }
    std::this_thread::sleep_for(250ms);
  }
  const double window = secs_since(t0) - 2.0;
  std::vector<double> fast_bps;
  for (auto& f : fast) f->stop();
  for (int i = 0; i < kFast; ++i) fast_bps.push_back((fast[i]->bytes() - bytes_at_2s[i]) * 8.0 / window);
  std::sort(rate_samples.begin(), rate_samples.end());
  const double in_bps = rate_samples.empty() ? 0 : rate_samples[rate_samples.size() / 2];  // median
  std::ostringstream rates, closes;
  for (double b : fast_bps) rates << " " << b;
  for (double c : close_after_s) closes << " " << c;
  BOOST_TEST_MESSAGE("stall: " << window + 2 << " s; bitrate_in_bps median " << in_bps << " (" << rate_samples.size()
                               << " samples); fast viewers bps:" << rates.str() << "; stalled generations closed after (s):"
                               << closes.str() << "; max RSS " << max_rss << " KiB (first half " << max_rss_first_half
                               << ", second half " << max_rss_second_half << "); stream: " << last.dump());
  BOOST_TEST_REQUIRE(in_bps > 0, "API gave no bitrate_in_bps");
  for (int i = 0; i < kFast; ++i) {
    BOOST_TEST(!fast[i]->failed(), "fast viewer " << i << " failed: " << fast[i]->ws().error());
    BOOST_TEST(std::abs(fast_bps[i] - in_bps) <= 0.1 * in_bps,
               "fast viewer " << i << " got " << fast_bps[i] << " bit/s, stream in " << in_bps);
  }
  // Memory: bounded, and flat once the first generations have come and gone. Under ASan the relay's RSS
  // also holds shadow memory and redzones (measured 49 MiB at most), and its quarantine keeps what is
  // freed, the chunks that went by included, so it grows with the bytes passed (measured 9 MiB from the
  // first half to the second; LeakSanitizer checks for real leaks there).
  const long max_rss_kib = static_cast<long>(sanitizer_scaled(64 * 1024, 3));
  const long growth_kib = static_cast<long>(sanitizer_scaled(2048, 10));
  BOOST_TEST(max_rss > 0);
  BOOST_TEST(max_rss < max_rss_kib, "relay RSS reached " << max_rss << " KiB");
  BOOST_TEST(max_rss_second_half <= max_rss_first_half + growth_kib,
             "relay RSS grew from " << max_rss_first_half << " KiB to " << max_rss_second_half << " KiB");
  // Every generation of stalled viewers was closed within stall_timeout_s (+ the 1 s housekeeping
  // tick, the send buffer filling and our 250 ms polling).
  BOOST_TEST(close_after_s.size() >= 6u, "only " << close_after_s.size() << " stalled generations were closed in 60 s");
  for (double c : close_after_s) BOOST_TEST(c <= kStallTimeoutS + 3.0, "stalled viewers closed only after " << c << " s");

  // The stalled sockets of the first generation read whatever the kernel held, then the end.
  for (size_t i = 0; i < kStalled && i < closed_stalled.size(); ++i) {
    auto& w = *closed_stalled[i];
    const auto until = Clock::now() + 5s;
    bool open = true;
    while (open && Clock::now() < until) open = w.read_for(200);
    BOOST_TEST_MESSAGE("stalled viewer " << i << ": " << w.data().size() << " bytes buffered, closed_by_server="
                                         << w.closed_by_server() << " code=" << w.close_code() << " error='" << w.error()
                                         << "'");
    BOOST_TEST(!open, "stalled viewer " << i << " still open after being closed by the relay");
  }
  BOOST_TEST(count_lines(s.relay->log_text(), "viewer .*closing") >= 2 * kStalled, "relay logged no stalled-viewer close");
}

BOOST_AUTO_TEST_CASE(viewer_limit_per_stream) {
  ConfiguredStack s(R"(limits = { max_viewers_per_stream = 5; };)", "limit");
  std::vector<std::unique_ptr<WsClient>> viewers;
  for (int i = 0; i < 5; ++i) {
    viewers.push_back(std::make_unique<WsClient>(s.viewer_port, "/live/cam1"));
    BOOST_TEST_REQUIRE(viewers.back()->connect(), "viewer " << i + 1 << ": " << viewers.back()->error());
  }
  for (auto& v : viewers) BOOST_TEST_REQUIRE(v->read_for(300), "viewer dropped: " << v->error());

  WsClient sixth(s.viewer_port, "/live/cam1");
  bool refused = !sixth.connect();
  if (!refused) refused = !sixth.read_for(2000) && sixth.closed_by_server();
  BOOST_TEST_MESSAGE("6th WS: handshake status " << sixth.handshake_status() << ", close code " << sixth.close_code()
                                                 << ", data " << sixth.data().size() << " bytes, error '" << sixth.error()
                                                 << "'");
  BOOST_TEST(refused, "6th WebSocket viewer was served");
  BOOST_TEST((sixth.close_code() == 1013 || sixth.handshake_status() == 503 ||
              (sixth.handshake_status() != 101 && sixth.handshake_status() != 0)),
             "6th WebSocket viewer: status " << sixth.handshake_status() << " close " << sixth.close_code());
  BOOST_TEST(sixth.data().empty(), "6th WebSocket viewer received " << sixth.data().size() << " bytes");

  HttpStreamReader ts(s.viewer_port, "/live/cam1.ts");
  ts.connect();
  ts.read_for(1500);
  BOOST_TEST_MESSAGE("6th HTTP-TS: status " << ts.status() << ", " << ts.body().size() << " bytes");
  BOOST_TEST(ts.status() == 503, "6th HTTP-TS viewer got status " << ts.status());
  ts.close();

  for (auto& v : viewers) BOOST_TEST(v->read_for(200), "an admitted viewer was dropped: " << v->error());
  // A freed slot is usable again.
  viewers.back()->close();
  int status = 0;
  for (int attempt = 0; attempt < 10 && status != 200; ++attempt) {
    std::this_thread::sleep_for(200ms);
    HttpStreamReader again(s.viewer_port, "/live/cam1.ts");
    again.connect();
    again.read_for(500);
    status = again.status();
  }
  BOOST_TEST(status == 200, "after a viewer left, HTTP-TS still got " << status);
}

// A connection flood beyond limits.max_connections: the relay counts its open connections and
// closes new ones at accept once the limit is reached (never running out of descriptors or
// spinning on accept); viewers already connected keep their data; once the idle connections hit
// request_timeout_s the relay accepts again.
BOOST_AUTO_TEST_CASE(connection_flood_beyond_max_connections) {
  ConfiguredStack s("limits = { max_connections = 64; request_timeout_s = 3; };\n", "flood");
  BackgroundViewer viewer(s.viewer_port, "/live/cam1");
  BOOST_TEST_REQUIRE(viewer.connect(), viewer.ws().error());
  viewer.start();
  std::vector<TcpSocket> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(TcpSocket::connect_loopback(s.viewer_port, 1000));
  std::this_thread::sleep_for(1s);
  BOOST_TEST_REQUIRE(s.relay->running(), "relay died under the flood; log: " << s.relay->log_path());
  // Connections beyond the limit were closed by the relay: reading them gives EOF at once.
  int closed = 0;
  for (auto& c : idle) {
    uint8_t b;
    if (c.read_some(&b, 1, Clock::now() + 5ms) == 0) ++closed;
  }
  BOOST_TEST_MESSAGE("flood: " << closed << " of 200 idle connections closed by the relay at once");
  BOOST_TEST(closed >= 200 - 64);
  BOOST_TEST(closed <= 200 - 64 + 8);  // the viewer, the publisher and the API polls hold a few slots
  const size_t bytes_before = viewer.bytes();
  std::this_thread::sleep_for(1500ms);
  BOOST_TEST(viewer.bytes() > bytes_before + 100000, "the connected viewer starved during the flood");
  BOOST_TEST(count_lines(s.relay->log_text(), "connection limit: .* refusing new ones") == 1,
             "the refusals should be logged once (throttled)");
  // The idle connections are closed after request_timeout_s; then new requests are served again.
  HttpResponse health;
  const auto until = Clock::now() + 15s;
  while (Clock::now() < until) {
    health = http_get(s.viewer_port, "/healthz", 1000);
    if (health.status == 200) break;
    std::this_thread::sleep_for(200ms);
  }
  BOOST_TEST(health.status == 200, "relay did not accept again after the flood: " << health.error);
  // The first idle connection to time out frees a slot for /healthz; the rest follow within a
  // housekeeping pass or two (measured: 54 still open at that moment under ASan on a loaded machine).
  nlohmann::json node = get_json(s.viewer_port, "/api/v1/node");
  for (const auto drained_by = Clock::now() + 5s; num(node, "connections", 999) > 8 && Clock::now() < drained_by;) {
    std::this_thread::sleep_for(200ms);
    node = get_json(s.viewer_port, "/api/v1/node");
  }
  BOOST_TEST_MESSAGE("node after the flood: " << node.dump());
  BOOST_TEST(num(node, "connections_refused", 0) >= 200 - 64);
  BOOST_TEST(num(node, "connections", 999) <= 8);
  viewer.stop();
  BOOST_TEST(!viewer.failed(), viewer.ws().error());
}

// A truncated TS: a publisher sends real FFmpeg output cut in the middle of a TS packet inside a
// GOP (Content-Length body, so the request ends there). The relay logs that publisher's end
// once; the next publisher of the same stream reaches a viewer that decodes at full rate.
BOOST_AUTO_TEST_CASE(truncated_ts_then_a_new_publisher) {
  RelayStack s;
  s.start_relay();
  const std::string path = test_log_dir() + "/truncated_sample.ts";
  {
    Process ff("ffmpeg-sample", {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-y", "-f", "lavfi", "-i",
                                 "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "mpeg1video", "-b:v", "800k", "-bf", "0",
                                 "-g", "25", "-f", "mpegts", path});
    for (int i = 0; i < 300 && ff.running(); ++i) std::this_thread::sleep_for(100ms);
    BOOST_TEST_REQUIRE(ff.exit_status() == 0, "ffmpeg failed: see " << ff.log_path());
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> ts((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST_REQUIRE(ts.size() > 100000u);
  const size_t cut = ts.size() / 2 + 77;  // mid-packet, mid-GOP
  BOOST_TEST_REQUIRE(cut % 188 != 0u);

  const size_t log_at = s.relay()->log_size();
  auto sock = TcpSocket::connect_loopback(s.ingest_port(), 3000);
  sock.write_all("POST /publish/trunc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: video/mp2t\r\nContent-Length: " +
                 std::to_string(cut) + "\r\n\r\n");
  sock.write_all(ts.data(), cut);
  BOOST_TEST(s.relay()->wait_for_log("stream trunc: publisher finished its request", 5000, log_at));
  uint8_t tmp[512];
  const long rd = sock.read_some(tmp, sizeof tmp, Clock::now() + 2s);
  BOOST_TEST(rd > 0, "no HTTP response to the finished publish");
  BOOST_TEST(std::string(reinterpret_cast<char*>(tmp), rd > 0 ? static_cast<size_t>(rd) : 0).rfind("HTTP/1.1 200", 0) == 0u);
  sock.close();

  // The next publisher of the stream (the capture agent) reaches a new viewer at full rate.
  s.start_capture("trunc");
  BOOST_TEST_REQUIRE(s.wait_live("trunc"));
  BackgroundViewer v(s.viewer_port(), "/live/trunc");
  BOOST_TEST_REQUIRE(v.connect());
  v.start();
  std::this_thread::sleep_for(3s);
  const double secs = v.stop();
  BOOST_TEST(!v.failed(), v.ws().error());
  expect_decodes(v.ws().data(), secs, "viewer after a truncated publisher");
  BOOST_TEST(s.relay()->running());
  BOOST_TEST(count_lines(s.relay()->log_text().substr(log_at), "stream trunc: publisher finished") == 1);
}
