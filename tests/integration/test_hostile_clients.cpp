// Hostile clients against both listeners of one running relay (issue 9): what a stranger can send
// must get the right status or close code and cost nothing else. A capture agent publishes cam1
// and a good WebSocket viewer (127.0.0.1) reads it through every case; the last case decodes what
// it received. Attackers connect from other loopback addresses (127.0.0.2 and up), so the
// relay's per-address limits and per-address log limits see them as other peers.
#define BOOST_TEST_MODULE test_hostile_clients
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "decode_ts.h"
#include "free_port.h"
#include "http_message.h"
#include "relay_process.h"
#include "tcp_socket.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

constexpr int kRequestTimeoutS = 3;
constexpr int kPublisherWaitS = 3;
constexpr int kStallTimeoutS = 4;

const char* kAttacker = "127.0.0.2";

// The relay under attack. 127.0.0.1 (publisher, good viewer) is exempt from the per-address
// limits; every other loopback address gets 64 connections. UDP_PORT is replaced.
const std::string kConfig = R"(
node_id = "hostile";
limits = {
  request_timeout_s = 3;
  publisher_wait_s = 3;
  max_streams = 4;
  max_waiting_streams = 8;
  max_connections = 4096;
  max_connections_per_address = 64;
  exempt_networks = [ "127.0.0.1" ];
};
hub = { stall_timeout_s = 4; viewer_sndbuf_bytes = 16384; };
ingest = {
  start_timeout_s = 3;
  udp = ( { listen = "127.0.0.1:UDP_PORT"; stream = "udpcam"; } );
};
)";

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// A WebSocket viewer read on its own thread until stop().
class BackgroundViewer {
 public:
  BackgroundViewer(uint16_t port, const std::string& path) : ws_(port, path) {}
  ~BackgroundViewer() { stop(); }
  bool start() {
    if (!ws_.connect()) return false;
    start_ = Clock::now();
    th_ = std::thread([this] {
      while (!stop_) {
        if (!ws_.read_for(100)) {
          failed_ = true;
          break;
        }
        bytes_ = ws_.data().size();
      }
    });
    return true;
  }
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
  const WsClient& ws() const { return ws_; }

 private:
  WsClient ws_;
  std::thread th_;
  std::atomic<bool> stop_{false}, failed_{false};
  std::atomic<size_t> bytes_{0};
  Clock::time_point start_{};
  double secs_ = 0;
};

/// The relay, the publisher and the good viewer, shared by every case (cases run in order).
struct Target {
  std::unique_ptr<RelayProcess> relay;
  std::unique_ptr<Process> capture;
  std::unique_ptr<BackgroundViewer> good;
  long rss_start_kib = 0;
  uint16_t udp_port = free_port();

  Target() {
    // The connection floods need more descriptors than the default soft limit.
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    std::string config = kConfig;
    config.replace(config.find("UDP_PORT"), 8, std::to_string(udp_port));
    relay = std::make_unique<RelayProcess>(config, "test_hostile_clients-relay");
    capture = start_capture("http://127.0.0.1:" + std::to_string(relay->ingest_port()) + "/publish/cam1");
    relay->wait_live("cam1");
    good = std::make_unique<BackgroundViewer>(relay->viewer_port(), "/live/cam1");
    BOOST_TEST_REQUIRE(good->start(), "good viewer: " << good->ws().error());
    std::this_thread::sleep_for(1s);
    rss_start_kib = relay->rss_kib();
  }
  ~Target() {
    good.reset();
    capture.reset();
    relay.reset();
  }
  uint16_t vport() const { return relay->viewer_port(); }
  uint16_t iport() const { return relay->ingest_port(); }

  /// The relay is up and the good viewer is still getting data (more than `before` bytes).
  void expect_unharmed(size_t before, const std::string& what) {
    BOOST_TEST_REQUIRE(relay->proc().running(), what << ": the relay died; log: " << relay->proc().log_path());
    const auto until = Clock::now() + 3s;
    while (good->bytes() <= before && Clock::now() < until) std::this_thread::sleep_for(50ms);
    BOOST_TEST(!good->failed(), what << ": the good viewer's connection failed");
    BOOST_TEST(good->bytes() > before, what << ": the good viewer stopped receiving");
  }
};

/// The shared target, started by the first case that asks (its checks need a running test case).
std::unique_ptr<Target> g_owned;
Target& target() {
  if (!g_owned) g_owned = std::make_unique<Target>();
  return *g_owned;
}

/// Reads a response or the close from `s` until `timeout_ms`. Returns the HTTP status, 0 when
/// the peer closed (or reset) without a response, -1 on timeout. `head` gets the response head,
/// `rest` what arrived after it.
int read_status(TcpSocket& s, int timeout_ms, std::string* head = nullptr, std::vector<uint8_t>* rest = nullptr) {
  std::vector<uint8_t> buf;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t tmp[4096];
  for (;;) {
    long n = 0;
    try {
      n = s.read_some(tmp, sizeof tmp, deadline);
    } catch (const std::exception&) {
      n = 0;
    }
    if (n < 0) return buf.empty() ? -1 : 0;
    if (n == 0) break;
    buf.insert(buf.end(), tmp, tmp + n);
    if (find_head_end(buf)) break;
  }
  if (buf.empty()) return 0;
  std::string text(buf.begin(), buf.end());
  const size_t end = text.find("\r\n\r\n");
  if (rest && end != std::string::npos) rest->assign(buf.begin() + static_cast<long>(end + 4), buf.end());
  text = text.substr(0, end);
  if (head) *head = text;
  HttpHeaders h;
  return parse_response_head(text, h);
}

/// True when the peer closes `s` (EOF or reset) within `timeout_ms`, discarding what it sends.
bool closed_within(TcpSocket& s, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t tmp[65536];
  for (;;) {
    long n = 0;
    try {
      n = s.read_some(tmp, sizeof tmp, deadline);
    } catch (const std::exception&) {
      return true;
    }
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

/// Sends `request` from the attacker's address and returns the status (see read_status).
int status_of(uint16_t port, const std::string& request, std::string* head = nullptr, int timeout_ms = 3000) {
  TcpSocket s = TcpSocket::connect_loopback(port, 3000, 0, kAttacker);
  s.write_all(request);
  return read_status(s, timeout_ms, head);
}

/// A WebSocket handshake on `s` for `path` (GET, fixed key). Returns the status; `rest` gets the
/// frames that arrived with the response head.
int ws_handshake(TcpSocket& s, const std::string& path, std::vector<uint8_t>* rest = nullptr,
                 const std::string& extra_headers = "") {
  s.write_all("GET " + path +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
              extra_headers + "\r\n");
  return read_status(s, 3000, nullptr, rest);
}

/// One WebSocket frame from a client: masked unless `mask` is false; `fin` false for a fragment.
std::string ws_frame(uint8_t opcode, const std::string& payload, bool mask = true, bool fin = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  const size_t n = payload.size();
  const char m = mask ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f += static_cast<char>(m | static_cast<char>(n));
  } else {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  }
  const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ (mask ? key[i % 4] : 0));
  return f;
}

/// The close code of the first close frame the server sends on `s` within `timeout_ms` (0: the
/// connection ended without one, -1: still open). `buf`: bytes already read after the handshake.
int ws_close_code(TcpSocket& s, int timeout_ms, std::vector<uint8_t> buf = {}) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t tmp[65536];
  for (;;) {
    // Walk the frames received so far (server frames are unmasked).
    size_t pos = 0;
    while (buf.size() - pos >= 2) {
      const uint8_t op = buf[pos] & 0x0f;
      size_t len = buf[pos + 1] & 0x7f, hdr = 2;
      if (len == 126) {
        if (buf.size() - pos < 4) break;
        len = (static_cast<size_t>(buf[pos + 2]) << 8) | buf[pos + 3];
        hdr = 4;
      } else if (len == 127) {
        if (buf.size() - pos < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | buf[pos + 2 + static_cast<size_t>(i)];
        hdr = 10;
      }
      if (buf.size() - pos < hdr + len) break;
      if (op == 0x8) return len >= 2 ? (buf[pos + hdr] << 8) | buf[pos + hdr + 1] : 1005;
      pos += hdr + len;
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(pos));
    long n = 0;
    try {
      n = s.read_some(tmp, sizeof tmp, deadline);
    } catch (const std::exception&) {
      return 0;
    }
    if (n == 0) return 0;
    if (n < 0) return -1;
    buf.insert(buf.end(), tmp, tmp + n);
  }
}

std::string relay_log() { return target().relay->proc().log_text(); }

}  // namespace

// Finding 1: an HTTP-TS viewer that sends anything after its request (a pipelined request, junk,
// one byte a moment later) used to leave a dangling subscriber in the hub: use-after-free. Now
// the relay closes such a connection when lws reads the extra bytes (a second request on a
// streaming connection), or, when lws leaves them in its read buffer, keeps streaming and never
// reads them; either way the response is one 200 head and whole TS packets, nothing spliced in,
// and the hub forgets the viewer when it leaves.
BOOST_AUTO_TEST_CASE(bytes_after_an_http_ts_request_never_splice_a_response_or_dangle) {
  Target& t = target();
  const size_t before = t.good->bytes();
  const std::string get = "GET /live/cam1.ts HTTP/1.1\r\nHost: x\r\n\r\n";
  int closed = 0;
  for (int i = 0; i < 30; ++i) {
    TcpSocket s = TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker);
    const int kind = i % 3;
    if (kind == 0) s.write_all(get + get);  // pipelined second request
    if (kind == 1) s.write_all(get + "x");  // junk right behind
    if (kind == 2) {
      s.write_all(get);
      std::this_thread::sleep_for(100ms);
      s.write_all("x");  // one byte later, mid-stream
    }
    // Read for up to 1 s: one response head, then only TS packets, until the relay closes or time is up.
    std::vector<uint8_t> got;
    const auto until = Clock::now() + 1s;
    uint8_t tmp[65536];
    bool eof = false;
    while (!eof && Clock::now() < until) {
      long n = 0;
      try {
        n = s.read_some(tmp, sizeof tmp, until);
      } catch (const std::exception&) {
        n = 0;
      }
      if (n == 0) eof = true;
      if (n > 0) got.insert(got.end(), tmp, tmp + n);
    }
    closed += eof;
    const std::string text(got.begin(), got.end());
    const size_t head_end = text.find("\r\n\r\n");
    BOOST_TEST_REQUIRE(head_end != std::string::npos, "connection " << i << ": no response head");
    BOOST_TEST(text.rfind("HTTP/1.1 200", 0) == 0u, "connection " << i << ": " << text.substr(0, 40));
    const size_t body = head_end + 4;
    BOOST_TEST(text.find("HTTP/1.", 12) == std::string::npos, "connection " << i << " (kind " << kind
                                                                            << "): a second response in the body");
    for (size_t off = body; off + 188 <= got.size(); off += 188) {
      if (got[off] != 0x47) {
        BOOST_TEST(false, "connection " << i << ": not whole TS packets at body offset " << off - body);
        break;
      }
    }
  }
  BOOST_TEST_MESSAGE(closed << " of 30 connections closed by the relay, the others kept streaming");
  t.expect_unharmed(before, "after HTTP-TS viewers sent extra bytes");
  const auto until = Clock::now() + 3s;
  while (t.relay->api("/api/v1/streams/cam1").value("viewers", -1) != 1 && Clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(t.relay->api("/api/v1/streams/cam1").value("viewers", -1) == 1, "leftover viewers in the hub");
}

// Finding 2: viewers of names nobody publishes never take a publisher's place, and they are
// sent away (404 / 4404) after publisher_wait_s.
BOOST_AUTO_TEST_CASE(waiting_viewers_never_block_publishers) {
  Target& t = target();
  const size_t before = t.good->bytes();
  std::vector<std::unique_ptr<TcpSocket>> squatters;
  for (int i = 0; i < 8; ++i) {  // max_waiting_streams
    auto s = std::make_unique<TcpSocket>(TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker));
    BOOST_TEST_REQUIRE(ws_handshake(*s, "/live/squat" + std::to_string(i)) == 101);
    squatters.push_back(std::move(s));
  }
  const auto squat_start = Clock::now();
  {
    TcpSocket ninth = TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker);
    std::vector<uint8_t> rest;  // the close frame may come with the 101
    BOOST_TEST(ws_handshake(ninth, "/live/squat8", &rest) == 101);
    BOOST_TEST(ws_close_code(ninth, 2000, rest) == 1013, "a 9th waiting stream was not refused with 1013");
  }
  // A publisher of a new stream still gets in (max_streams = 4 counts published streams only,
  // and a stream created by its publisher is not a waiting stream).
  const std::string ts_path = make_ts_file("hostile_sample.ts", 4);
  std::ifstream f(ts_path, std::ios::binary);
  const std::string ts((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  TcpSocket pub = TcpSocket::connect_loopback(t.iport(), 3000);
  pub.write_all("POST /publish/fresh HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(ts.size()) + "\r\n\r\n");
  pub.write_all(ts.substr(0, 64 * 1024));
  t.relay->wait_live("fresh", 3000);
  BOOST_TEST(t.relay->stream("fresh").value("publisher", std::string()) != "", "the new publisher was refused");
  for (size_t i = 0; i < squatters.size(); ++i) {
    BOOST_TEST(ws_close_code(*squatters[i], (kPublisherWaitS + 3) * 1000) == 4404, "squatter " << i);
  }
  BOOST_TEST(secs_since(squat_start) < kPublisherWaitS + 3.0);
  std::this_thread::sleep_for(1500ms);  // the hub forgets the emptied streams on its next tick
  // An HTTP-TS viewer of a name nobody publishes gets 404 after publisher_wait_s, not 200 and then nothing.
  TcpSocket ts_viewer = TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker);
  ts_viewer.write_all("GET /live/nobody.ts HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto ts_start = Clock::now();
  BOOST_TEST(read_status(ts_viewer, (kPublisherWaitS + 3) * 1000) == 404);
  BOOST_TEST(secs_since(ts_start) >= kPublisherWaitS - 0.5);
  pub.close();
  t.expect_unharmed(before, "after squatting viewers");
}

// Finding 3: every connection has a deadline until it streams; methods the viewer port does not
// serve get 405; no h2c; CONNECT is not a tunnel.
BOOST_AUTO_TEST_CASE(every_connection_has_a_deadline) {
  Target& t = target();
  const size_t before = t.good->bytes();
  std::string head;
  BOOST_TEST(status_of(t.vport(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", &head) == 405);
  BOOST_TEST(head.find("Allow: GET") != std::string::npos, head);
  BOOST_TEST(status_of(t.vport(), "POST /api/v1/node HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\na") == 405);
  BOOST_TEST(status_of(t.vport(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                  "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n") == 400);
  BOOST_TEST(status_of(t.vport(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == 405);
  // 64 CONNECTs held open (the per-address cap) lock nobody out: they are answered and closed.
  {
    std::vector<TcpSocket> conns;
    for (int i = 0; i < 64; ++i) {
      conns.push_back(TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker));
      conns.back().write_all("CONNECT a:1 HTTP/1.1\r\n\r\n");
    }
    for (auto& c : conns) BOOST_TEST(closed_within(c, 2000));
    BOOST_TEST(status_of(t.vport(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == 200);
  }
  // Idle, a slow head on either port, a publisher trickling its body: closed by their deadlines.
  auto t0 = Clock::now();
  TcpSocket idle = TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker);
  TcpSocket slow_head = TcpSocket::connect_loopback(t.vport(), 3000, 0, kAttacker);
  TcpSocket slow_ingest = TcpSocket::connect_loopback(t.iport(), 3000);
  TcpSocket trickle = TcpSocket::connect_loopback(t.iport(), 3000);
  trickle.write_all("POST /publish/trickle HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  bool idle_open = true, head_open = true, ingest_open = true, trickle_open = true;
  double trickle_closed_s = 0;
  while (secs_since(t0) < kRequestTimeoutS + 4 && (idle_open || head_open || ingest_open || trickle_open)) {
    try {
      if (head_open) slow_head.write_all(std::string("X"));
      if (ingest_open) slow_ingest.write_all("P");
      if (trickle_open) trickle.write_all("1\r\nG\r\n");  // one byte of body, never a TS packet
    } catch (const std::exception&) {
    }
    idle_open = idle_open && !closed_within(idle, 1);
    head_open = head_open && !closed_within(slow_head, 1);
    ingest_open = ingest_open && !closed_within(slow_ingest, 1);
    if (trickle_open && closed_within(trickle, 1)) {
      trickle_open = false;
      trickle_closed_s = secs_since(t0);
    }
    std::this_thread::sleep_for(300ms);
  }
  BOOST_TEST(!idle_open, "an idle viewer-port connection outlived request_timeout_s");
  BOOST_TEST(!head_open, "a slowloris head on the viewer port outlived request_timeout_s");
  BOOST_TEST(!ingest_open, "a slowloris head on the ingest port outlived request_timeout_s");
  BOOST_TEST(!trickle_open, "a publisher trickling non-TS outlived ingest.start_timeout_s");
  BOOST_TEST(trickle_closed_s < kRequestTimeoutS + 2.0);
  BOOST_TEST(count_lines(relay_log(), "stream trickle: publisher sent no keyframe") == 1);
  t.expect_unharmed(before, "after connections that tried to outlive their deadlines");
}

// Finding 4: control frames count in a viewer's receive budget: a ping flood is closed with 1008.
BOOST_AUTO_TEST_CASE(ping_flood_is_closed_with_1008) {
  Target& t = target();
  const size_t before = t.good->bytes();
  const size_t log_at = t.relay->proc().log_size();
  // Its own address: the earlier cases' refusals of kAttacker may have used up that peer's log budget.
  const char* const ip = "127.0.0.10";
  TcpSocket s = TcpSocket::connect_loopback(t.vport(), 3000, 0, ip);
  BOOST_TEST_REQUIRE(ws_handshake(s, "/live/cam1") == 101);  // (it never reads: the flood is all that matters)
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += ws_frame(0x9, "p");
  const auto t0 = Clock::now();
  size_t sent = 0;
  bool closed = false;
  while (secs_since(t0) < 6 && !closed) {
    try {
      s.write_all(burst, 200);
      sent += burst.size();
    } catch (const std::exception&) {
      closed = true;  // the relay closed (or reset) the connection
    }
  }
  const double secs = secs_since(t0);
  BOOST_TEST_MESSAGE("ping flood: " << sent << " bytes sent in " << secs << " s");
  BOOST_TEST(closed, "the relay kept a ping-flooding viewer for 6 s");
  BOOST_TEST(secs < 4.0);
  t.relay->proc().wait_for_log("viewer 127\\.0\\.0\\.10:[0-9]+: sent .* closing", 2000, log_at);
  const std::string log = relay_log().substr(log_at);
  BOOST_TEST(count_lines(log, "viewer 127\\.0\\.0\\.10:[0-9]+: sent .* closing \\(1008\\)") == 1, log);
  t.expect_unharmed(before, "after a ping flood");
}

// Finding 5: refusals are logged a few times per peer and then summarised; control bytes from
// the peer never reach the log raw.
BOOST_AUTO_TEST_CASE(log_lines_stay_bounded_and_escaped) {
  Target& t = target();
  const size_t before = t.good->bytes();
  const size_t log_at = t.relay->proc().log_size();
  int sent = 0;
  const auto t0 = Clock::now();
  for (; sent < 3000 && secs_since(t0) < 10; ++sent) {
    TcpSocket s = TcpSocket::connect_loopback(sent % 2 ? t.vport() : t.iport(), 3000, 0, "127.0.0.3");
    s.write_all(sent % 2 ? "FOO / HTTP/1.1\r\n\r\n" : "GET /nothing HTTP/1.1\r\n\r\n");
    read_status(s, 1000);
  }
  {
    TcpSocket s = TcpSocket::connect_loopback(t.vport(), 3000, 0, "127.0.0.10");
    s.write_all("DELETE /%1b[31mred HTTP/1.1\r\nHost: x\r\n\r\n");  // logged with the decoded path
    BOOST_TEST(read_status(s, 3000) == 405);
  }
  std::this_thread::sleep_for(500ms);
  const std::string log = relay_log().substr(log_at);
  const int lines = count_lines(log, ".");
  BOOST_TEST_MESSAGE(sent << " bad requests in " << secs_since(t0) << " s wrote " << lines << " log lines");
  BOOST_TEST(sent >= 1000);
  BOOST_TEST(lines <= 20, "bad requests wrote " << lines << " lines:\n" << log.substr(0, 3000));
  BOOST_TEST(log.find('\x1b') == std::string::npos, "a raw ESC byte reached the log");
  BOOST_TEST(log.find("\\x1b[31mred") != std::string::npos, "the ESC byte is not in the log as \\x1b:\n" << log);
  BOOST_TEST(t.relay->api("/api/v1/node").value("log_lines_suppressed", 0) > 100);
  t.expect_unharmed(before, "after 3000 bad requests");
}

// Finding 6 and request smuggling: both ports answer framing tricks with 400, unknown methods
// with 405, junk with 400, HTTP/0.9 with 505; a chunk size of 2^64-1 is refused.
BOOST_AUTO_TEST_CASE(smuggling_and_malformed_requests) {
  Target& t = target();
  const size_t before = t.good->bytes();
  const char* const ip = "127.0.0.4";
  auto status = [&](uint16_t port, const std::string& req) {
    TcpSocket s = TcpSocket::connect_loopback(port, 3000, 0, ip);
    s.write_all(req);
    return read_status(s, 3000);
  };
  // Viewer port.
  BOOST_TEST(status(t.vport(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n"
                               "GET /api/v1/node HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  BOOST_TEST(status(t.vport(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
  BOOST_TEST(status(t.vport(), "DELETE /api/v1/node HTTP/1.1\r\nHost: x\r\n\r\n") == 405);
  BOOST_TEST(status(t.vport(), "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n") == 405);
  BOOST_TEST(status(t.vport(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)) == 400);
  BOOST_TEST(status(t.vport(), "GET /live/../../etc/passwd.ts HTTP/1.1\r\nHost: x\r\n\r\n") == 404);
  BOOST_TEST(status(t.vport(), "GET /live/" + std::string(65, 'a') + ".ts HTTP/1.1\r\nHost: x\r\n\r\n") == 404);
  {
    TcpSocket s = TcpSocket::connect_loopback(t.vport(), 3000, 0, ip);
    BOOST_TEST(ws_handshake(s, "/live/bad%20name") == 404);
  }
  {
    // A header line without a colon: lws 4.1's parser reads it as the start of a header name and
    // waits for more, so the answer is the head deadline (request_timeout_s), not a 400.
    TcpSocket s = TcpSocket::connect_loopback(t.vport(), 3000, 0, ip);
    s.write_all("GET /healthz HTTP/1.1\r\nHost: x\r\nFooBar\r\n\r\n");
    const auto t0 = Clock::now();
    const int st = read_status(s, (kRequestTimeoutS + 2) * 1000);
    BOOST_TEST((st == 0 || st == 400), "a header line without a colon got " << st);
    BOOST_TEST(secs_since(t0) < kRequestTimeoutS + 1.5);
  }
  // Ingest port.
  BOOST_TEST(status(t.iport(), "POST /publish/x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400);
  BOOST_TEST(status(t.iport(), "POST /publish/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  {
    // The head is fine, so the publisher is accepted; its first chunk size overflows: closed.
    const size_t log_at = t.relay->proc().log_size();
    TcpSocket s = TcpSocket::connect_loopback(t.iport(), 3000, 0, "127.0.0.11");  // its own log budget
    s.write_all("POST /publish/big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n");
    BOOST_TEST(closed_within(s, 3000));
    BOOST_TEST(count_lines(relay_log().substr(log_at), "stream big: bad HTTP body framing") == 1);
  }
  BOOST_TEST(status(t.iport(), "POST /publish/x\r\n\r\n") == 505);
  BOOST_TEST(status(t.iport(), "BREW /publish/x HTTP/1.1\r\n\r\n") == 400);
  BOOST_TEST(status(t.iport(), "DELETE /publish/x HTTP/1.1\r\n\r\n") == 405);
  BOOST_TEST(status(t.iport(), "POST /publish/x HTTP/1.1\r\nFooBar\r\n\r\n") == 400);
  BOOST_TEST(status(t.iport(), "POST /publish/" + std::string(65, 'a') + " HTTP/1.1\r\n\r\n") == 404);
  BOOST_TEST(t.relay->stream("x").is_null(), "a malformed request created stream x");
  t.expect_unharmed(before, "after malformed requests");
}

// WebSocket framing abuse on both ports: unmasked frames, oversized lengths, fragmented control
// frames, text on a TS publish: each closed with a protocol close code; nothing else notices.
BOOST_AUTO_TEST_CASE(websocket_framing_abuse) {
  Target& t = target();
  const size_t before = t.good->bytes();
  const char* const ip = "127.0.0.5";
  std::vector<uint8_t> rest;  // frames that came with the handshake's response
  auto viewer = [&] {
    auto s = std::make_unique<TcpSocket>(TcpSocket::connect_loopback(t.vport(), 3000, 0, ip));
    BOOST_TEST_REQUIRE(ws_handshake(*s, "/live/cam1", &rest) == 101);
    return s;
  };
  {
    // lws takes unmasked client frames (RFC 6455 §5.1 says close); they count in the budget.
    auto s = viewer();
    s->write_all(ws_frame(0x2, std::string(60000, 'u'), false));
    BOOST_TEST(ws_close_code(*s, 3000, rest) == 1008);
  }
  {
    auto s = viewer();
    std::string huge = "\x82\xff";  // 64-bit length with its most significant bit set
    huge += std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    huge += "mask";
    s->write_all(huge);
    const int code = ws_close_code(*s, 3000, rest);
    BOOST_TEST(code >= 0, "a frame length with bit 63 set left the connection open");
  }
  {
    auto s = viewer();
    std::string huge = "\x82\xff";  // 2^63-1 bytes announced, 100 KB sent
    huge += std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
    huge += "mask" + std::string(100000, 'h');
    s->write_all(huge);
    BOOST_TEST(ws_close_code(*s, 3000, rest) == 1008);
  }
  {
    auto s = viewer();
    s->write_all(ws_frame(0x9, "frag", true, false));  // a ping with FIN clear
    const int code = ws_close_code(*s, 3000, rest);
    BOOST_TEST((code == 1002 || code == 0), "fragmented ping: close code " << code);
  }
  {
    auto s = viewer();
    s->write_all(ws_frame(0x2, std::string(60000, 'v')));  // data frames: over the 16 KiB/s budget
    BOOST_TEST(ws_close_code(*s, 3000, rest) == 1008);
  }
  {
    TcpSocket s = TcpSocket::connect_loopback(t.iport(), 3000);
    std::vector<uint8_t> pub_rest;
    BOOST_TEST_REQUIRE(ws_handshake(s, "/publish/wsabuse", &pub_rest) == 101);
    s.write_all(ws_frame(0x1, "text is not TS"));
    BOOST_TEST(ws_close_code(s, 3000, pub_rest) == 1003);
  }
  {
    TcpSocket s = TcpSocket::connect_loopback(t.iport(), 3000);
    BOOST_TEST_REQUIRE(ws_handshake(s, "/publish/wsabuse") == 101);
    // An unmasked publisher frame (lws takes it) of one byte that is not TS: the publisher has
    // not started within ingest.start_timeout_s, so it is dropped then.
    s.write_all(ws_frame(0x2, "x", false));
    const int code = ws_close_code(s, (kRequestTimeoutS + 2) * 1000);
    BOOST_TEST(code >= 0, "a publisher of one unmasked byte outlived ingest.start_timeout_s");
  }
  t.expect_unharmed(before, "after WebSocket framing abuse");
}

// Finding 6: a UDP sender of junk is dropped alone; another sender publishes right after it.
BOOST_AUTO_TEST_CASE(udp_bad_sender_does_not_block_good_sender) {
  Target& t = target();
  const uint16_t port = t.udp_port;
  auto sender = [&](const char* source) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source, &local.sin_addr);
    bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
    return fd;
  };
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  const int bad = sender("127.0.0.6"), good = sender("127.0.0.7");
  const std::string junk(1316, 'J');
  for (int i = 0; i < 80; ++i) {  // > 64 KiB of non-TS: the hub refuses the bad sender
    sendto(bad, junk.data(), junk.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(300ms);
  const std::string ts_path = make_ts_file("hostile_sample.ts", 4);
  std::ifstream f(ts_path, std::ios::binary);
  const std::string ts((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (size_t off = 0; off + 1316 <= ts.size() && off < 300 * 1316; off += 1316) {
    sendto(good, ts.data() + off, 1316, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(300ms);
  const nlohmann::json s = t.relay->stream("udpcam");
  BOOST_TEST(s.value("publisher", std::string()).find("127.0.0.7") != std::string::npos,
             "the good UDP sender was not accepted after a bad one: " << s.dump());
  BOOST_TEST(count_lines(relay_log(), "udp ingest: stream udpcam: publisher 127\\.0\\.0\\.6:[0-9]+ gone") == 1);
  close(bad);
  close(good);
}

// Finding 7: a viewer that stops reading is reset after stall_timeout_s: it learns it was
// dropped, and the relay keeps no socket in FIN_WAIT1 with a full send buffer.
BOOST_AUTO_TEST_CASE(stalled_viewer_is_reset) {
  Target& t = target();
  const size_t before = t.good->bytes();
  TcpSocket s = TcpSocket::connect_loopback(t.vport(), 3000, 4096, "127.0.0.8");
  BOOST_TEST_REQUIRE(ws_handshake(s, "/live/cam1") == 101);
  std::this_thread::sleep_for(std::chrono::seconds(kStallTimeoutS + 3));  // never read
  // The unread data comes first; drain it to see how the connection ended.
  long total = 0;
  int err = 0;
  for (;;) {
    char buf[65536];
    const ssize_t r = recv(s.fd(), buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      total += r;
      continue;
    }
    err = r < 0 ? errno : 0;
    break;
  }
  BOOST_TEST_MESSAGE("stalled viewer: " << total << " bytes buffered, then errno " << err);
  BOOST_TEST(err == ECONNRESET, "the stalled viewer was not reset (errno " << err << ")");
  // No relay socket to this viewer waits in FIN_WAIT1/2 (ss lists them by port).
  Process ss("ss", {"ss", "-tan", "state", "fin-wait-1", "sport", "=", ":" + std::to_string(t.vport())});
  for (int i = 0; i < 30 && ss.running(); ++i) std::this_thread::sleep_for(100ms);
  BOOST_TEST(count_lines(ss.log_text(), "127\\.0\\.0\\.8") == 0, ss.log_text());
  t.expect_unharmed(before, "after a stalled viewer");
}

// Per-address limit and a connection flood: 2000 idle connections from 40 addresses are all
// closed by request_timeout_s; one address gets at most 64; the good viewer never notices.
BOOST_AUTO_TEST_CASE(connection_floods) {
  Target& t = target();
  const size_t before = t.good->bytes();
  {
    std::vector<TcpSocket> conns;
    for (int i = 0; i < 70; ++i) conns.push_back(TcpSocket::connect_loopback(t.vport(), 3000, 0, "127.0.0.9"));
    std::this_thread::sleep_for(300ms);
    int closed_at_once = 0;
    for (auto& c : conns) closed_at_once += closed_within(c, 0);
    BOOST_TEST(closed_at_once == 6, "of 70 connections from one address " << closed_at_once << " were refused");
    BOOST_TEST(t.relay->api("/api/v1/node").value("connections_refused_per_address", 0) >= 6);
  }
  std::vector<TcpSocket> idle;
  const auto t0 = Clock::now();
  for (int i = 0; i < 2000; ++i) {
    const std::string source = "127.0.1." + std::to_string(1 + i % 40);
    idle.push_back(TcpSocket::connect_loopback(t.vport(), 3000, 0, source.c_str()));
  }
  BOOST_TEST_MESSAGE("2000 idle connections opened in " << secs_since(t0) << " s");
  BOOST_TEST(status_of(t.vport(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == 200);
  int still_open = 0;
  for (auto& c : idle) still_open += !closed_within(c, std::max(1, static_cast<int>((kRequestTimeoutS + 3 - secs_since(t0)) * 1000)));
  BOOST_TEST(still_open == 0, still_open << " idle connections outlived request_timeout_s");
  idle.clear();
  t.expect_unharmed(before, "after 2000 idle connections");
}

// Hundreds of viewers connecting and dropping for 20 s: the relay's memory comes back.
BOOST_AUTO_TEST_CASE(viewer_churn_leaves_memory_flat) {
  Target& t = target();
  const size_t before = t.good->bytes();
  const long rss_before = t.relay->rss_kib();
  const auto t0 = Clock::now();
  int cycles = 0;
  while (secs_since(t0) < 20) {
    std::vector<std::unique_ptr<WsClient>> ws;
    std::vector<TcpSocket> ts;
    for (int i = 0; i < 100; ++i) {
      ws.push_back(std::make_unique<WsClient>(t.vport(), "/live/cam1"));
      ws.back()->connect(2000);
      ts.push_back(TcpSocket::connect_loopback(t.vport(), 3000));
      ts.back().write_all("GET /live/cam1.ts HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    std::this_thread::sleep_for(200ms);
    ++cycles;
  }
  std::this_thread::sleep_for(2s);
  const long rss_after = t.relay->rss_kib();
  BOOST_TEST_MESSAGE(cycles << " cycles of 200 viewers; relay RSS " << rss_before << " → " << rss_after
                            << " KiB (start of the program " << t.rss_start_kib << " KiB)");
  BOOST_TEST(t.relay->api("/api/v1/streams/cam1").value("viewers", -1) == 1);
#if defined(__SANITIZE_ADDRESS__)
  const long allowed_kib = 512 * 1024;  // ASan keeps freed memory in quarantine (256 MiB by default)
#else
  const long allowed_kib = 16 * 1024;
#endif
  BOOST_TEST(rss_after < rss_before + allowed_kib, "RSS grew from " << rss_before << " to " << rss_after << " KiB");
  t.expect_unharmed(before, "after viewer churn");
}

// The good viewer read through every case above: its stream decodes at full rate.
BOOST_AUTO_TEST_CASE(good_viewer_decoded_throughout) {
  Target& t = target();
  const double secs = t.good->stop();
  auto r = decode_ts(t.good->ws().data());
  BOOST_TEST_MESSAGE("good viewer: " << t.good->ws().data().size() << " bytes in " << secs << " s; " << r.summary());
  BOOST_TEST(!t.good->failed());
  BOOST_TEST(r.errors == 0, r.error_text);
  BOOST_TEST(r.frames_decoded >= 0.9 * 25.0 * secs, "decoded " << r.frames_decoded << " frames in " << secs << " s");
  BOOST_TEST(t.relay->proc().running());
  BOOST_TEST(t.relay->proc().stop() == 0, "the relay did not stop cleanly");
  g_owned.reset();
}
