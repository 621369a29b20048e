// mpegcast-bench-publish: replays an MPEG-TS file in real time, looping, to a relay's ingest
// (HTTP POST chunked, raw TCP or UDP), with a latency marker packet every ~20 ms.
#include <netinet/in.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "marker.h"
#include "socket_util.h"
#include "ts_frame_index.h"

using namespace mpegcast::bench;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

constexpr size_t kPacket = 188;
constexpr int kSendTimeoutS = 5;  // a blocking write that makes no progress this long fails

/// Where the publisher sends: one connection (or connected UDP socket) of one transport.
class PublishSink {
 public:
  virtual ~PublishSink() = default;
  /// Sends whole TS packets. `segments` are runs of whole 188-byte packets; when `marker` is not
  /// null it is the last packet of the last segment and gets its send time (CLOCK_MONOTONIC ns)
  /// stamped right before the syscall that carries it. Returns false with `error` on failure.
  virtual bool send(const std::vector<iovec>& segments, uint8_t* marker, std::string& error) = 0;
  /// Non-blocking look at what the server sent back; false with `error` when it refused or
  /// closed the connection.
  virtual bool check(std::string& error) = 0;
};

/// Writes all of `iov` (blocking socket), resuming after partial writes and EINTR. False with
/// `error` on failure or when stopping.
bool writev_all(int fd, std::vector<iovec> iov, std::string& error) {
  size_t first = 0;
  for (int guard = 0; first < iov.size() && guard < 100000; ++guard) {
    const ssize_t n = writev(fd, iov.data() + first, static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX)));
    if (n < 0) {
      if (errno == EINTR && !g_stop.load()) continue;
      error = errno == EAGAIN ? "send made no progress for " + std::to_string(kSendTimeoutS) + " s"
                              : std::string("send: ") + std::strerror(errno);
      return false;
    }
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < iov.size()) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  if (first < iov.size()) {
    error = "send: too many partial writes";
    return false;
  }
  return true;
}

/// A blocking TCP connection to 127.x:port with TCP_NODELAY and a send timeout.
UniqueFd connect_tcp(const sockaddr_in& addr, std::string& error) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error = std::string("connect: ") + std::strerror(errno);
    return UniqueFd();
  }
  set_tcp_nodelay(fd.get());  // marker packets go out at once, not after the next ACK
  timeval tv{kSendTimeoutS, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

/// What a TCP server sent back, looked at without blocking: false when it closed the connection
/// or (for HTTP) answered with a status line.
bool peek_reply(int fd, bool http, std::string& error) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return true;
  char buf[1024];
  const ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    error = "the server closed the connection";
    return false;
  }
  if (n > 0 && http) {
    std::string reply(buf, static_cast<size_t>(n));
    error = "the server answered: " + reply.substr(0, reply.find("\r\n"));
    return false;
  }
  return true;
}

/// Raw TS over one TCP connection (like `ffmpeg -f mpegts tcp://…`).
class TcpSink final : public PublishSink {
 public:
  explicit TcpSink(UniqueFd fd) : fd_(std::move(fd)) {}
  bool send(const std::vector<iovec>& segments, uint8_t* marker, std::string& error) override {
    if (marker) stamp_marker_packet(marker, monotonic_ns());
    return writev_all(fd_.get(), segments, error);
  }
  bool check(std::string& error) override { return peek_reply(fd_.get(), false, error); }

 private:
  UniqueFd fd_;
};

/// One long HTTP/1.1 POST with Transfer-Encoding: chunked (FFmpeg's http:// output): one HTTP
/// chunk per send().
class HttpSink final : public PublishSink {
 public:
  explicit HttpSink(UniqueFd fd) : fd_(std::move(fd)) {}
  bool start(const LoopbackUrl& url, std::string& error) {
    const std::string head = "POST " + url.path + " HTTP/1.1\r\nHost: " + url.host_port +
                             "\r\nUser-Agent: mpegcast-bench-publish\r\nContent-Type: video/mp2t\r\n"
                             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    std::vector<iovec> iov{{const_cast<char*>(head.data()), head.size()}};
    return writev_all(fd_.get(), iov, error);
  }
  bool send(const std::vector<iovec>& segments, uint8_t* marker, std::string& error) override {
    size_t len = 0;
    for (const iovec& v : segments) len += v.iov_len;
    char size_line[32];
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", len);
    static char crlf[] = "\r\n";
    std::vector<iovec> iov;
    iov.reserve(segments.size() + 2);
    iov.push_back({size_line, static_cast<size_t>(n)});
    iov.insert(iov.end(), segments.begin(), segments.end());
    iov.push_back({crlf, 2});
    if (marker) stamp_marker_packet(marker, monotonic_ns());
    return writev_all(fd_.get(), std::move(iov), error);
  }
  bool check(std::string& error) override { return peek_reply(fd_.get(), true, error); }

 private:
  UniqueFd fd_;
};

/// TS over UDP, 7 packets per datagram (1316 bytes, FFmpeg's default), to a connected socket.
class UdpSink final : public PublishSink {
 public:
  explicit UdpSink(UniqueFd fd) : fd_(std::move(fd)) {}
  bool send(const std::vector<iovec>& segments, uint8_t* marker, std::string& error) override {
    // Flatten into packet pointers, then send groups of up to 7.
    packets_.clear();
    for (const iovec& v : segments) {
      auto* p = static_cast<uint8_t*>(v.iov_base);
      for (size_t off = 0; off + kPacket <= v.iov_len; off += kPacket) packets_.push_back(p + off);
    }
    for (size_t i = 0; i < packets_.size(); i += 7) {
      const size_t count = std::min<size_t>(7, packets_.size() - i);
      iovec iov[7];
      for (size_t k = 0; k < count; ++k) iov[k] = {packets_[i + k], kPacket};
      if (marker && i + count == packets_.size()) stamp_marker_packet(marker, monotonic_ns());
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      if (sendmsg(fd_.get(), &msg, 0) < 0) {
        if (errno == ECONNREFUSED || errno == EINTR) {
          ++refused_;  // nobody listening (ICMP port unreachable): UDP goes on regardless
          continue;
        }
        error = std::string("sendmsg: ") + std::strerror(errno);
        return false;
      }
    }
    return true;
  }
  bool check(std::string&) override { return true; }

 private:
  UniqueFd fd_;
  std::vector<uint8_t*> packets_;
  uint64_t refused_ = 0;
};

std::unique_ptr<PublishSink> open_sink(const LoopbackUrl& url, std::string& error) {
  if (url.scheme == "tcp") {
    UniqueFd fd = connect_tcp(url.addr, error);
    if (!fd.valid()) return nullptr;
    return std::make_unique<TcpSink>(std::move(fd));
  }
  if (url.scheme == "http") {
    UniqueFd fd = connect_tcp(url.addr, error);
    if (!fd.valid()) return nullptr;
    auto sink = std::make_unique<HttpSink>(std::move(fd));
    if (!sink->start(url, error)) return nullptr;
    return sink;
  }
  if (url.scheme == "udp") {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() || connect(fd.get(), reinterpret_cast<const sockaddr*>(&url.addr), sizeof url.addr) != 0) {
      error = std::string("udp socket: ") + std::strerror(errno);
      return nullptr;
    }
    int sndbuf = 1 << 20;
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    return std::make_unique<UdpSink>(std::move(fd));
  }
  error = "unsupported scheme \"" + url.scheme + "\" (use http://, tcp:// or udp://)";
  return nullptr;
}

void sleep_until_ns(uint64_t t_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(t_ns / 1000000000ULL);
  ts.tv_nsec = static_cast<long>(t_ns % 1000000000ULL);
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);  // EINTR: the loop looks at g_stop
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mpegcast-bench-publish: replays an MPEG-TS file in real time, looping, to a relay's ingest.\n"
      "Paces per video frame (each burst goes out when its PES's DTS/PTS is due), continues the\n"
      "timeline across loops, and inserts a latency marker packet (PID 0x1FF0) every --marker-interval-ms.\n"
      "Targets: http://HOST:PORT/publish/STREAM (one chunked POST), tcp://HOST:PORT, udp://HOST:PORT\n"
      "(7 TS packets per datagram). HOST must be a loopback address.",
      "mpegcast-bench-publish"};
  std::string input, url_text;
  double marker_interval_ms = 20, status_interval_s = 5, duration_s = 3600;
  app.add_option("-i,--input", input, "MPEG-TS file to replay")->required();
  app.add_option("-u,--url", url_text, "target URL (http://, tcp:// or udp://, loopback only)")->required();
  app.add_option("--marker-interval-ms", marker_interval_ms, "time between latency markers, ms (default 20)")
      ->check(CLI::Range(1.0, 10000.0));
  app.add_option("--status-interval-s", status_interval_s, "time between status lines on stderr, s (default 5)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--duration-s", duration_s, "stop after this many seconds (default 3600)")
      ->check(CLI::Range(0.1, 7.0 * 86400));
  CLI11_PARSE(app, argc, argv);

  LoopbackUrl url;
  std::string error;
  if (!parse_loopback_url(url_text, url, error)) {
    std::fprintf(stderr, "mpegcast-bench-publish: --url: %s\n", error.c_str());
    return 2;
  }
  TsFrameIndex index;
  if (!index.load(input, error)) {
    std::fprintf(stderr, "mpegcast-bench-publish: %s\n", error.c_str());
    return 2;
  }
  const double loop_s = static_cast<double>(index.loop_duration_90k()) / 90000.0;
  std::fprintf(stderr, "mpegcast-bench-publish: %s: %zu packets, %zu video frames on PID 0x%04X, %.2f s per loop (%.2f Mbit/s)\n",
               input.c_str(), index.packet_count(), index.bursts().size(), index.video_pid(), loop_s,
               static_cast<double>(index.bytes().size()) * 8 / loop_s / 1e6);

  install_stop_signals(on_signal);

  std::unique_ptr<PublishSink> sink = open_sink(url, error);
  if (!sink) {
    std::fprintf(stderr, "mpegcast-bench-publish: %s: %s\n", url_text.c_str(), error.c_str());
    return 1;
  }
  std::fprintf(stderr, "mpegcast-bench-publish: publishing to %s\n", url_text.c_str());

  const std::vector<uint8_t>& bytes = index.bytes();
  const std::vector<FrameBurst>& bursts = index.bursts();
  const uint64_t marker_step_ns = static_cast<uint64_t>(marker_interval_ms * 1e6);
  const uint64_t status_step_ns = static_cast<uint64_t>(status_interval_s * 1e9);
  const uint64_t t0 = monotonic_ns();
  const uint64_t end_ns = t0 + static_cast<uint64_t>(duration_s * 1e9);
  uint64_t timeline_start_ns = t0;     // when burst 0 of loop 0 is due (moves on a rebase)
  uint64_t loop = 0, rebases = 0;
  size_t next_burst = 0;
  uint64_t next_marker_ns = t0, next_status_ns = t0 + status_step_ns, next_check_ns = t0;
  uint64_t marker_seq = 0;
  uint8_t marker_cc = 0;
  uint64_t bytes_sent = 0, markers_sent = 0, status_bytes = 0, status_t = t0;
  std::vector<uint8_t> marker_buf(kMarkerPacketSize);  // the marker has its own buffer: the file is never rewritten
  std::vector<iovec> segments;
  int rc = 0;

  auto burst_due_ns = [&]() -> uint64_t {
    const int64_t ticks = static_cast<int64_t>(loop) * index.loop_duration_90k() + bursts[next_burst].due_90k;
    return timeline_start_ns + static_cast<uint64_t>(ticks) * 100000ULL / 9ULL;  // 90 kHz → ns
  };

  while (!g_stop.load()) {  // bounded by end_ns
    uint64_t now = monotonic_ns();
    if (now >= end_ns) break;
    uint64_t frame_due = burst_due_ns();
    if (now > frame_due + 2000000000ULL) {  // more than 2 s behind (machine stalled): do not burst to catch up
      timeline_start_ns += now - frame_due;
      frame_due = now;
      ++rebases;
    }
    const bool send_frame = now >= frame_due;
    const bool send_marker = now >= next_marker_ns;
    if (send_frame || send_marker) {
      segments.clear();
      size_t len = 0;
      if (send_frame) {
        const FrameBurst& b = bursts[next_burst];
        len = b.packet_count * kPacket;
        segments.push_back({const_cast<uint8_t*>(bytes.data() + b.first_packet * kPacket), len});
      }
      uint8_t* marker = nullptr;
      if (send_marker) {  // last in the write: its latency is that of the whole burst
        build_marker_packet(marker_buf.data(), marker_cc, marker_seq, 0);
        marker = marker_buf.data();
        segments.push_back({marker, kMarkerPacketSize});
        len += kMarkerPacketSize;
      }
      if (!sink->send(segments, marker, error)) {
        if (g_stop.load()) break;
        std::fprintf(stderr, "mpegcast-bench-publish: %s: %s\n", url_text.c_str(), error.c_str());
        rc = 1;
        break;
      }
      bytes_sent += len;
      if (send_frame && ++next_burst == bursts.size()) {
        next_burst = 0;
        ++loop;
      }
      if (send_marker) {
        ++marker_seq;
        marker_cc = static_cast<uint8_t>((marker_cc + 1) & 0x0F);
        ++markers_sent;
        next_marker_ns += marker_step_ns;
        if (now > next_marker_ns + 10 * marker_step_ns) next_marker_ns = now + marker_step_ns;
      }
      continue;
    }
    if (now >= next_check_ns) {
      next_check_ns = now + 100000000ULL;  // 10 times a second
      if (!sink->check(error)) {
        std::fprintf(stderr, "mpegcast-bench-publish: %s: %s\n", url_text.c_str(), error.c_str());
        rc = 1;
        break;
      }
    }
    if (now >= next_status_ns) {
      const double dt = static_cast<double>(now - status_t) / 1e9;
      std::fprintf(stderr,
                   "mpegcast-bench-publish: %.0f s: %" PRIu64 " bytes sent, %" PRIu64 " markers, %.3f Mbit/s over the last %.1f s, loop %" PRIu64
                   ", %" PRIu64 " rebases\n",
                   static_cast<double>(now - t0) / 1e9, bytes_sent, markers_sent,
                   static_cast<double>(bytes_sent - status_bytes) * 8 / dt / 1e6, dt, loop, rebases);
      status_bytes = bytes_sent;
      status_t = now;
      next_status_ns += status_step_ns;
      if (next_status_ns <= now) next_status_ns = now + status_step_ns;
    }
    uint64_t wake = std::min({frame_due, next_marker_ns, next_status_ns, next_check_ns, end_ns});
    sleep_until_ns(wake);
  }
  std::fprintf(stderr, "mpegcast-bench-publish: stopped: %" PRIu64 " bytes, %" PRIu64 " markers sent in %.1f s\n", bytes_sent,
               markers_sent, static_cast<double>(monotonic_ns() - t0) / 1e9);
  return rc;
}
