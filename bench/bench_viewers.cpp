// mpegcast-bench-viewers: N WebSocket viewers of ws://HOST:PORT/live/STREAM in one epoll thread.
// Measures per-viewer bytes, latency of the publisher's marker packets, lost markers and the
// time to the first MPEG-1 sequence header (join_ms); a fraction of "slow" viewers connect and
// then never read again.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "latency_histogram.h"
#include "marker.h"
#include "socket_util.h"
#include "ws_handshake.h"

using namespace mpegcast::bench;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

constexpr size_t kPacket = 188;
constexpr size_t kMaxHeadBytes = 8192;         // a longer upgrade response is refused
constexpr uint64_t kHandshakeTimeoutNs = 10'000'000'000ULL;
constexpr int kSlowRcvbufBytes = 4096;
constexpr int kMaxReadsPerEvent = 4;           // fairness between viewers (level-triggered epoll)

enum class State : uint8_t { idle, connecting, handshaking, open, closed, failed };

/// One viewer connection and its incremental WebSocket-frame and TS-packet parsers.
struct Viewer {
  UniqueFd fd;
  State state = State::idle;
  bool slow = false;
  bool closed_by_server = false;
  bool open_at_window_start = false;
  int64_t seq_at_window_start = -1;  // last marker seq seen when the window started
  uint16_t port = 0;           // local port (to find the server's end in /proc/net/tcp)
  uint64_t connect_ns = 0;     // CLOCK_MONOTONIC when connect() was called
  std::string key;             // Sec-WebSocket-Key
  std::string head;            // upgrade response being read
  // WebSocket frame parser (RFC 6455 §5.2)
  uint8_t hdr[14] = {};
  uint8_t hdr_have = 0, hdr_need = 2;
  bool in_payload = false;
  uint8_t opcode = 0, msg_opcode = 0;
  uint64_t payload_left = 0;
  uint8_t ctrl[125] = {};
  uint8_t ctrl_have = 0;
  // TS packet scanner
  uint8_t pkt[kPacket] = {};
  uint16_t pkt_have = 0;
  bool ts_synced = false;
  uint32_t start_code = 0xFFFFFFFF;  // last 4 video payload bytes, for 00 00 01 B3
  double join_ms = -1;
  // counters (reset at the start of the steady window)
  uint64_t bytes = 0, markers = 0, lost = 0, dups = 0;
  int64_t last_seq = -1;
  uint64_t resyncs = 0, discarded_bytes = 0;
};

/// Totals over all viewers.
struct Totals {
  LatencyHistogram latency;          // fast viewers, µs
  uint64_t max_seq_seen = 0;
  bool any_marker = false;
  uint64_t protocol_errors = 0;
  std::map<std::string, uint64_t> failures;  // reason → count (allocates only on failures)
  std::map<int, uint64_t> close_codes;        // server close frames by status code
};

/// All viewers of one run and their epoll registrations (epoll data = viewer index).
class ViewerFleet {
 public:
  /// `n` viewers of `url`, round(n × slow_frac) of them slow (spread evenly over the ramp),
  /// registered on `epoll_fd` as they start.
  ViewerFleet(const LoopbackUrl& url, size_t n, double slow_frac, int epoll_fd)
      : url_(url), viewers_(n), epfd_(epoll_fd), rng_(std::random_device{}()) {
    const size_t slow = static_cast<size_t>(static_cast<double>(n) * slow_frac + 0.5);
    // Spread the slow ones evenly over the ramp.
    for (size_t i = 0; i < slow && n; ++i) viewers_[(i * n) / slow].slow = true;
  }

  /// Totals over all viewers (latency histogram, failures, close codes).
  const Totals& totals() const { return totals_; }
  /// The viewers, in start order.
  std::vector<Viewer>& viewers() { return viewers_; }

  /// Starts connecting viewer `i` (non-blocking connect).
  void start(size_t i, uint64_t now_ns) {
    Viewer& v = viewers_[i];
    v.connect_ns = now_ns;
    v.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!v.fd.valid()) return fail(v, std::string("socket: ") + std::strerror(errno));
    if (v.slow) {  // before connect, so the advertised window stays small
      int rcv = kSlowRcvbufBytes;
      setsockopt(v.fd.get(), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    }
    if (connect(v.fd.get(), reinterpret_cast<const sockaddr*>(&url_.addr), sizeof url_.addr) != 0 &&
        errno != EINPROGRESS) {
      return fail(v, std::string("connect: ") + std::strerror(errno));
    }
    v.port = local_port(v.fd.get());
    v.state = State::connecting;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, v.fd.get(), &ev) != 0) return fail(v, std::string("epoll_ctl: ") + std::strerror(errno));
  }

  /// Handles epoll events `events` for viewer `i`; marker latencies go into the histogram only
  /// when `record_latency` (the steady window).
  void on_event(size_t i, uint32_t events, bool record_latency) {
    Viewer& v = viewers_[i];
    switch (v.state) {
      case State::connecting: return on_connected(v, i);
      case State::handshaking: return on_handshake_data(v, i, record_latency);
      case State::open:
        if (v.slow) {
          if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) close_by_server(v);
          return;
        }
        return on_data(v, record_latency);
      default:
        return;
    }
  }

  /// Fails viewers whose connect + handshake took longer than kHandshakeTimeoutNs.
  void sweep_timeouts(uint64_t now_ns) {
    for (Viewer& v : viewers_) {
      if ((v.state == State::connecting || v.state == State::handshaking) && now_ns - v.connect_ns > kHandshakeTimeoutNs) {
        fail(v, v.state == State::connecting ? "connect timeout" : "handshake timeout");
      }
    }
  }

  /// Number of viewers still connecting or handshaking.
  size_t pending() const {
    size_t n = 0;
    for (const Viewer& v : viewers_) n += v.state == State::connecting || v.state == State::handshaking;
    return n;
  }

  /// Starts the steady window: zeroes the per-viewer counters and the latency histogram.
  void reset_window() {
    totals_.latency.reset();
    window_seq_start_ = totals_.max_seq_seen;
    window_had_marker_ = totals_.any_marker;
    for (Viewer& v : viewers_) {
      v.bytes = v.markers = v.lost = v.dups = 0;
      v.open_at_window_start = v.state == State::open;
      v.seq_at_window_start = v.last_seq;
    }
  }

  /// Markers viewer `v` should have received during the window: from its last one before the
  /// window up to the newest any viewer saw (so markers still in flight at the end count as
  /// expected, not as lost).
  uint64_t expected_markers(const Viewer& v) const {
    if (!totals_.any_marker) return 0;
    const int64_t newest = static_cast<int64_t>(totals_.max_seq_seen);
    const int64_t from = v.seq_at_window_start >= 0 ? v.seq_at_window_start
                                                    : (window_had_marker_ ? static_cast<int64_t>(window_seq_start_) : -1);
    return newest > from ? static_cast<uint64_t>(newest - from) : 0;
  }

 private:
  void fail(Viewer& v, const std::string& why) {
    ++totals_.failures[why];
    v.fd.reset();
    v.state = State::failed;
  }

  void close_by_server(Viewer& v) {
    v.closed_by_server = true;
    v.fd.reset();
    v.state = State::closed;
  }

  void on_connected(Viewer& v, size_t i) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(v.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      return fail(v, std::string("connect: ") + std::strerror(err ? err : errno));
    }
    v.key = random_websocket_key(rng_);
    const std::string req = websocket_upgrade_request(url_.host_port, url_.path, v.key);
    const ssize_t n = send(v.fd.get(), req.data(), req.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(req.size())) return fail(v, "upgrade request not sent in one write");
    v.state = State::handshaking;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, v.fd.get(), &ev) != 0) fail(v, std::string("epoll_ctl: ") + std::strerror(errno));
  }

  void on_handshake_data(Viewer& v, size_t i, bool record_latency) {
    char buf[4096];
    const ssize_t n = recv(v.fd.get(), buf, sizeof buf, 0);
    if (n == 0) return fail(v, "closed during the handshake");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      return fail(v, std::string("recv during the handshake: ") + std::strerror(errno));
    }
    v.head.append(buf, static_cast<size_t>(n));
    const size_t end = find_head_end(v.head);
    if (end == std::string::npos) {
      if (v.head.size() > kMaxHeadBytes) fail(v, "upgrade response head too long");
      return;
    }
    std::string why;
    if (!check_upgrade_response(v.head.substr(0, end), v.key, why)) return fail(v, "handshake: " + why);
    v.state = State::open;
    const std::string rest = v.head.substr(end);
    v.head = std::string();  // release
    v.key = std::string();
    if (v.slow) {  // never read again; still learn about RST / FIN
      epoll_event ev{};
      ev.events = EPOLLRDHUP;
      ev.data.u64 = i;
      epoll_ctl(epfd_, EPOLL_CTL_MOD, v.fd.get(), &ev);
      return;
    }
    if (!rest.empty()) feed_frames(v, reinterpret_cast<const uint8_t*>(rest.data()), rest.size(), monotonic_ns(), record_latency);
  }

  void on_data(Viewer& v, bool record_latency) {
    for (int r = 0; r < kMaxReadsPerEvent && v.state == State::open; ++r) {
      const ssize_t n = recv(v.fd.get(), rx_.data(), rx_.size(), 0);
      if (n == 0) return close_by_server(v);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        return close_by_server(v);  // ECONNRESET and friends
      }
      feed_frames(v, rx_.data(), static_cast<size_t>(n), monotonic_ns(), record_latency);
      if (static_cast<size_t>(n) < rx_.size()) return;
    }
  }

  /// WebSocket frame parser: data goes to the TS scanner, control frames are collected.
  void feed_frames(Viewer& v, const uint8_t* p, size_t n, uint64_t now_ns, bool record_latency) {
    for (size_t guard = 0; n > 0 && v.state == State::open && guard < 1000000; ++guard) {
      if (!v.in_payload) {
        const size_t take = std::min<size_t>(n, v.hdr_need - v.hdr_have);
        std::memcpy(v.hdr + v.hdr_have, p, take);
        v.hdr_have = static_cast<uint8_t>(v.hdr_have + take);
        p += take;
        n -= take;
        if (v.hdr_have < v.hdr_need) return;
        const uint8_t len7 = v.hdr[1] & 0x7F;
        if (v.hdr[1] & 0x80) return protocol_error(v);  // servers never mask (§5.1)
        const uint8_t need = static_cast<uint8_t>(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0));
        if (v.hdr_need < need) {
          v.hdr_need = need;
          continue;
        }
        uint64_t len = len7;
        if (len7 == 126) len = (uint64_t(v.hdr[2]) << 8) | v.hdr[3];
        if (len7 == 127) {
          len = 0;
          for (int k = 0; k < 8; ++k) len = (len << 8) | v.hdr[2 + k];
        }
        v.opcode = v.hdr[0] & 0x0F;
        if (v.opcode & 0x08) {
          if (len > 125) return protocol_error(v);
          v.ctrl_have = 0;
        } else if (v.opcode != 0) {
          v.msg_opcode = v.opcode;
        }
        v.hdr_have = 0;
        v.hdr_need = 2;
        v.payload_left = len;
        v.in_payload = true;
        if (len == 0) end_frame(v);
        continue;
      }
      const size_t take = static_cast<size_t>(std::min<uint64_t>(n, v.payload_left));
      if (v.opcode & 0x08) {
        std::memcpy(v.ctrl + v.ctrl_have, p, take);
        v.ctrl_have = static_cast<uint8_t>(v.ctrl_have + take);
      } else if (v.msg_opcode == 0x2) {
        v.bytes += take;
        feed_ts(v, p, take, now_ns, record_latency);
      }
      p += take;
      n -= take;
      v.payload_left -= take;
      if (v.payload_left == 0) end_frame(v);
    }
  }

  void end_frame(Viewer& v) {
    v.in_payload = false;
    switch (v.opcode) {
      case 0x8: {  // close
        const int code = v.ctrl_have >= 2 ? (v.ctrl[0] << 8) | v.ctrl[1] : 1005;
        ++totals_.close_codes[code];
        return close_by_server(v);
      }
      case 0x9: {  // ping → pong, masked as a client must (§5.3)
        uint8_t frame[kClientControlHeader + 125];
        frame[0] = 0x8A;
        frame[1] = static_cast<uint8_t>(0x80 | v.ctrl_have);
        const uint32_t mask = static_cast<uint32_t>(rng_());
        std::memcpy(frame + 2, &mask, 4);
        for (size_t k = 0; k < v.ctrl_have; ++k) frame[6 + k] = v.ctrl[k] ^ frame[2 + (k & 3)];
        (void)!send(v.fd.get(), frame, 6 + v.ctrl_have, MSG_NOSIGNAL | MSG_DONTWAIT);
        return;
      }
      default:
        return;
    }
  }

  void protocol_error(Viewer& v) {
    ++totals_.protocol_errors;
    fail(v, "WebSocket protocol error from the server");
  }

  /// Scans payload bytes as 188-byte TS packets, keeping alignment across frames.
  void feed_ts(Viewer& v, const uint8_t* p, size_t n, uint64_t now_ns, bool record_latency) {
    for (size_t guard = 0; n > 0 && guard < 10000000; ++guard) {
      if (v.pkt_have == 0) {
        if (*p != 0x47) {
          if (v.ts_synced) ++v.resyncs;
          v.ts_synced = false;
          const auto* q = static_cast<const uint8_t*>(std::memchr(p, 0x47, n));
          const size_t skip = q ? static_cast<size_t>(q - p) : n;
          v.discarded_bytes += skip;
          p += skip;
          n -= skip;
          continue;
        }
        v.ts_synced = true;
        if (n >= kPacket) {  // whole packet in place
          on_packet(v, p, now_ns, record_latency);
          p += kPacket;
          n -= kPacket;
          continue;
        }
      }
      const size_t take = std::min<size_t>(n, kPacket - v.pkt_have);
      std::memcpy(v.pkt + v.pkt_have, p, take);
      v.pkt_have = static_cast<uint16_t>(v.pkt_have + take);
      p += take;
      n -= take;
      if (v.pkt_have == kPacket) {
        v.pkt_have = 0;
        on_packet(v, v.pkt, now_ns, record_latency);
      }
    }
  }

  void on_packet(Viewer& v, const uint8_t* pkt, uint64_t now_ns, bool record_latency) {
    const uint16_t pid = static_cast<uint16_t>(((pkt[1] & 0x1F) << 8) | pkt[2]);
    if (pid == kMarkerPid) {
      Marker m;
      if (!parse_marker_packet(pkt, m)) return;
      ++v.markers;
      const int64_t seq = static_cast<int64_t>(m.seq);
      if (v.last_seq >= 0 && seq > v.last_seq + 1) v.lost += static_cast<uint64_t>(seq - v.last_seq - 1);
      if (v.last_seq >= 0 && seq <= v.last_seq) ++v.dups;  // repeated, or the publisher restarted
      v.last_seq = seq;
      if (!totals_.any_marker || m.seq > totals_.max_seq_seen) totals_.max_seq_seen = m.seq;
      totals_.any_marker = true;
      if (record_latency && !v.slow) totals_.latency.record(static_cast<int64_t>(now_ns - m.send_ns) / 1000);
      return;
    }
    if (v.join_ms >= 0 || pid < 0x20 || pid == 0x1FFF) return;  // joined already, or PSI / null
    const uint8_t afc = (pkt[3] >> 4) & 0x3;
    if (!(afc & 1)) return;
    size_t off = 4;
    if (afc & 2) off = 5 + pkt[4];
    for (size_t k = off; k < kPacket; ++k) {
      v.start_code = (v.start_code << 8) | pkt[k];
      if (v.start_code == 0x000001B3) {  // MPEG-1 sequence header: the first decodable picture follows
        v.join_ms = static_cast<double>(now_ns - v.connect_ns) / 1e6;
        return;
      }
    }
  }

  LoopbackUrl url_;
  std::vector<Viewer> viewers_;
  int epfd_;
  std::mt19937_64 rng_;
  std::vector<uint8_t> rx_ = std::vector<uint8_t>(256 * 1024);
  Totals totals_;
  uint64_t window_seq_start_ = 0;
  bool window_had_marker_ = false;
};

/// Server-side TCP states, from /proc/net/tcp, of connections to `server_port` keyed by the
/// client's port (hex state: 01 ESTABLISHED, 04 FIN_WAIT1, …).
std::map<uint16_t, int> server_side_states(uint16_t server_port) {
  std::map<uint16_t, int> out;
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);  // header
  for (size_t guard = 0; guard < 10000000 && std::getline(f, line); ++guard) {
    unsigned sl = 0, lip = 0, lport = 0, rip = 0, rport = 0, st = 0;
    if (std::sscanf(line.c_str(), " %u: %8X:%4X %8X:%4X %2X", &sl, &lip, &lport, &rip, &rport, &st) != 6) continue;
    if (lport == server_port) out[static_cast<uint16_t>(rport)] = static_cast<int>(st);
  }
  return out;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[idx];
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mpegcast-bench-viewers: N WebSocket viewers of ws://HOST:PORT/live/STREAM in one epoll thread.\n"
      "Connects at --ramp-per-s, waits until every viewer is connected (or failed), runs --warmup\n"
      "seconds, then measures a steady window of --duration seconds: bytes per viewer, latency of\n"
      "the publisher's marker packets (fast viewers), lost markers, and join_ms (connect to the first\n"
      "MPEG-1 sequence header). Prints \"steady window start\"/\"steady window end\" on stderr, and one\n"
      "summary line on stdout (and JSON with --report). HOST must be a loopback address.",
      "mpegcast-bench-viewers"};
  std::string url_text, report_path;
  size_t n = 10;
  double slow_frac = 0, ramp_per_s = 500, duration_s = 20, warmup_s = 5;
  app.add_option("-u,--url", url_text, "ws://HOST:PORT/live/STREAM (loopback only)")->required();
  app.add_option("-n,--viewers", n, "number of viewers (default 10)")->check(CLI::Range(size_t{1}, size_t{200000}));
  app.add_option("--slow-frac", slow_frac, "fraction of viewers that never read after the handshake (default 0)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--ramp-per-s", ramp_per_s, "new connections per second (default 500)")->check(CLI::Range(1.0, 100000.0));
  app.add_option("--duration", duration_s, "steady window, s (default 20)")->check(CLI::Range(0.5, 86400.0));
  app.add_option("--warmup", warmup_s, "seconds after all viewers connected before the window (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--report", report_path, "write the summary as JSON to this file");
  CLI11_PARSE(app, argc, argv);

  LoopbackUrl url;
  std::string error;
  if (!parse_loopback_url(url_text, url, error) || url.scheme != "ws") {
    std::fprintf(stderr, "mpegcast-bench-viewers: --url: %s\n", error.empty() ? "must be ws://HOST:PORT/PATH" : error.c_str());
    return 2;
  }
  const uint64_t nofile = raise_nofile_limit();
  if (nofile < n + 16) {
    std::fprintf(stderr, "mpegcast-bench-viewers: RLIMIT_NOFILE is %" PRIu64 ", too low for %zu viewers\n", nofile, n);
    return 2;
  }
  install_stop_signals(on_signal);

  UniqueFd epfd(epoll_create1(EPOLL_CLOEXEC));
  if (!epfd.valid()) {
    std::perror("epoll_create1");
    return 1;
  }
  ViewerFleet fleet(url, n, slow_frac, epfd.get());
  enum class Phase { ramp, settle, warmup, steady, done } phase = Phase::ramp;

  const uint64_t t0 = monotonic_ns();
  const double ramp_s = static_cast<double>(n) / ramp_per_s;
  const uint64_t hard_end = t0 + static_cast<uint64_t>((ramp_s + 2 * 10 + warmup_s + duration_s + 10) * 1e9);
  uint64_t phase_end = 0, window_start = 0, window_end = 0, next_sweep = t0;
  double window_cpu_start = 0, window_cpu = 0;
  size_t started = 0;
  std::vector<epoll_event> events(1024);
  bool interrupted = false;

  for (uint64_t now = t0; phase != Phase::done; now = monotonic_ns()) {  // bounded by hard_end
    if (g_stop.load()) {
      interrupted = true;
      break;
    }
    if (now >= hard_end) {
      std::fprintf(stderr, "mpegcast-bench-viewers: hard time limit reached\n");
      interrupted = true;
      break;
    }
    switch (phase) {
      case Phase::ramp: {
        const double allowed_d = static_cast<double>(now - t0) / 1e9 * ramp_per_s + 1;
        const size_t allowed = std::min(n, static_cast<size_t>(allowed_d));
        for (; started < allowed; ++started) fleet.start(started, now);
        if (started == n) {
          phase = Phase::settle;
          phase_end = now + kHandshakeTimeoutNs + 1'000'000'000ULL;
        }
        break;
      }
      case Phase::settle:
        if (fleet.pending() == 0 || now >= phase_end) {
          size_t open = 0;
          for (const Viewer& v : fleet.viewers()) open += v.state == State::open;
          std::fprintf(stderr, "mpegcast-bench-viewers: %zu of %zu viewers connected after %.1f s; warmup %.1f s\n", open, n,
                       static_cast<double>(now - t0) / 1e9, warmup_s);
          phase = Phase::warmup;
          phase_end = now + static_cast<uint64_t>(warmup_s * 1e9);
        }
        break;
      case Phase::warmup:
        if (now >= phase_end) {
          fleet.reset_window();
          window_start = now;
          window_cpu_start = cpu_seconds();
          phase = Phase::steady;
          phase_end = now + static_cast<uint64_t>(duration_s * 1e9);
          std::fprintf(stderr, "mpegcast-bench-viewers: steady window start\n");
          std::fflush(stderr);
        }
        break;
      case Phase::steady:
        if (now >= phase_end) {
          window_end = now;
          window_cpu = cpu_seconds() - window_cpu_start;
          phase = Phase::done;
          std::fprintf(stderr, "mpegcast-bench-viewers: steady window end\n");
          std::fflush(stderr);
        }
        break;
      case Phase::done:
        break;
    }
    if (phase == Phase::done) break;
    if (now >= next_sweep) {
      fleet.sweep_timeouts(now);
      next_sweep = now + 200'000'000ULL;
    }
    const int timeout_ms = phase == Phase::ramp ? 2 : 20;
    const int got = epoll_wait(epfd.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    const bool record = phase == Phase::steady;
    for (int k = 0; k < got; ++k) fleet.on_event(static_cast<size_t>(events[k].data.u64), events[k].events, record);
  }
  if (window_end == 0) {
    window_end = monotonic_ns();
    window_cpu = window_start ? cpu_seconds() - window_cpu_start : 0;
  }
  if (window_start == 0) window_start = window_end;

  // Slow viewers cannot see the server's FIN behind their unread data: ask the kernel what the
  // server's end of each connection is doing (anything but ESTABLISHED = closed by the server).
  const std::map<uint16_t, int> server_states = server_side_states(ntohs(url.addr.sin_port));
  for (Viewer& v : fleet.viewers()) {
    if (!v.slow || v.state != State::open) continue;
    auto it = server_states.find(v.port);
    if (it == server_states.end() || it->second != 0x01) {
      v.closed_by_server = true;
      v.state = State::closed;
    }
  }

  // Summary.
  const double window_s = static_cast<double>(window_end - window_start) / 1e9;
  struct Side {
    size_t requested = 0, connected = 0, failed = 0, closed_by_server = 0, open_at_end = 0, in_window = 0;
  } fast, slow;
  uint64_t fast_bytes = 0, expected = 0, received = 0, lost = 0, dups = 0, resyncs = 0, discarded = 0;
  std::vector<double> joins;
  for (const Viewer& v : fleet.viewers()) {
    Side& s = v.slow ? slow : fast;
    ++s.requested;
    s.connected += v.state == State::open || v.state == State::closed;
    s.failed += v.state == State::failed || v.state == State::idle || v.state == State::connecting || v.state == State::handshaking;
    s.closed_by_server += v.closed_by_server;
    s.open_at_end += v.state == State::open;
    s.in_window += v.open_at_window_start;
    resyncs += v.resyncs;
    discarded += v.discarded_bytes;
    if (v.slow) continue;
    if (v.join_ms >= 0) joins.push_back(v.join_ms);
    if (!v.open_at_window_start) continue;
    fast_bytes += v.bytes;
    expected += fleet.expected_markers(v);
    received += v.markers;
    lost += v.lost;
    dups += v.dups;
  }
  const Totals& t = fleet.totals();
  const double mean_bytes = fast.in_window ? static_cast<double>(fast_bytes) / static_cast<double>(fast.in_window) : 0;
  const double rx_bps = window_s > 0 ? mean_bytes * 8 / window_s : 0;

  nlohmann::json j;
  j["url"] = url_text;
  j["interrupted"] = interrupted;
  j["window_s"] = window_s;
  j["viewers_requested"] = n;
  for (auto [name, s] : {std::pair<const char*, Side>{"fast", fast}, {"slow", slow}}) {
    j[name] = {{"requested", s.requested},          {"connected", s.connected}, {"failed", s.failed},
               {"closed_by_server", s.closed_by_server}, {"open_at_end", s.open_at_end}, {"open_in_window", s.in_window}};
  }
  j["fast_mean_bytes"] = mean_bytes;
  j["fast_rx_bps"] = rx_bps;
  j["markers"] = {{"expected", expected}, {"received", received}, {"lost", lost}, {"repeated", dups}};
  j["latency_ms"] = {{"samples", t.latency.count()},
                     {"p50", t.latency.percentile_us(0.50) / 1000},
                     {"p90", t.latency.percentile_us(0.90) / 1000},
                     {"p99", t.latency.percentile_us(0.99) / 1000},
                     {"max", static_cast<double>(t.latency.max_us()) / 1000},
                     {"mean", t.latency.mean_us() / 1000}};
  j["join_ms"] = {{"count", joins.size()}, {"p50", percentile(joins, 0.5)}, {"max", joins.empty() ? 0.0 : *std::max_element(joins.begin(), joins.end())}};
  j["ts_resyncs"] = resyncs;
  j["ts_discarded_bytes"] = discarded;
  j["ws_protocol_errors"] = t.protocol_errors;
  j["self_cpu_ms_per_s"] = window_s > 0 ? window_cpu * 1000 / window_s : 0;
  nlohmann::json failures = nlohmann::json::object(), codes = nlohmann::json::object();
  for (const auto& [why, count] : t.failures) failures[why] = count;
  for (const auto& [code, count] : t.close_codes) codes[std::to_string(code)] = count;
  j["failures"] = failures;
  j["close_codes"] = codes;

  if (!report_path.empty()) {
    std::ofstream out(report_path);
    out << j.dump(2) << "\n";
    if (!out) std::fprintf(stderr, "mpegcast-bench-viewers: cannot write %s\n", report_path.c_str());
  }
  std::printf(
      "viewers=%zu fast=%zu/%zu slow=%zu/%zu failed=%zu closed_by_server=%zu/%zu window_s=%.1f fast_rx_mbps=%.3f "
      "markers=%" PRIu64 "/%" PRIu64 " lost=%" PRIu64 " lat_p50_ms=%.2f lat_p99_ms=%.2f lat_max_ms=%.2f join_p50_ms=%.1f join_max_ms=%.1f "
      "self_cpu_ms_per_s=%.0f%s\n",
      n, fast.connected, fast.requested, slow.connected, slow.requested, fast.failed + slow.failed, fast.closed_by_server,
      slow.closed_by_server, window_s, rx_bps / 1e6, received, expected, lost, t.latency.percentile_us(0.5) / 1000,
      t.latency.percentile_us(0.99) / 1000, static_cast<double>(t.latency.max_us()) / 1000, percentile(joins, 0.5),
      joins.empty() ? 0.0 : *std::max_element(joins.begin(), joins.end()), window_s > 0 ? window_cpu * 1000 / window_s : 0,
      interrupted ? " INTERRUPTED" : "");
  return interrupted ? 1 : 0;
}
