// mpegcast-bench-floor: the "floor relay", the least work any relay must do to fan one TS
// publisher out to N WebSocket viewers: one read from the publisher, one writev per viewer.
// No hub, no GOP cache, no queues, no per-viewer state beyond the socket. Its CPU use is the
// floor that mpegcast-relay is compared against.
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "marker.h"
#include "socket_util.h"
#include "ts_packet.h"
#include "ws_handshake.h"

using namespace mpegcast::bench;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

constexpr size_t kReadBytes = 64 * 1024;      // one read from the publisher
constexpr size_t kMaxHeadBytes = 8192;        // viewer request head
constexpr int kMaxAcceptsPerEvent = 64;
constexpr int kMaxViewerReadsPerEvent = 4;

/// What an epoll registration points at.
enum class Kind : uint8_t { ingest_listener, viewer_listener, publisher, viewer };

/// A socket registered with epoll (epoll data = pointer to it) and what kind it is.
struct Conn {
  explicit Conn(Kind k) : kind(k) {}
  Kind kind;
  UniqueFd fd;
};

/// A WebSocket viewer: reads its upgrade request, then gets every publisher read as one frame.
struct FloorViewer : Conn {
  FloorViewer() : Conn(Kind::viewer) {}
  bool open = false;    // 101 sent
  bool dead = false;    // to be removed after the current fan-out
  std::string head;
  size_t index = 0;     // position in Floor::viewers_
};

/// What the floor did since it started (bytes, frames dropped for full viewers, closes).
struct Counters {
  uint64_t bytes_in = 0, bytes_out = 0, reads = 0, frames_dropped = 0, short_write_closes = 0, viewer_closes = 0;
  uint64_t viewers_accepted = 0, publishers = 0, publishers_refused = 0;
};

/// The floor relay's state: listeners, at most one publisher, the viewers.
class Floor {
 public:
  /// Registers sockets on `epfd`; caps each viewer's SO_SNDBUF to `sndbuf_bytes`.
  Floor(int epfd, int sndbuf_bytes) : epfd_(epfd), sndbuf_bytes_(sndbuf_bytes) {}

  /// Registers a listening socket of kind `k`.
  bool add_listener(Kind k, UniqueFd fd) {
    auto c = std::make_unique<Conn>(k);
    c->fd = std::move(fd);
    if (!watch(c.get(), EPOLLIN)) return false;
    listeners_.push_back(std::move(c));
    return true;
  }

  /// Handles the epoll events of `c`.
  void on_event(Conn* c, uint32_t events) {
    switch (c->kind) {
      case Kind::ingest_listener: return accept_publishers(c->fd.get());
      case Kind::viewer_listener: return accept_viewers(c->fd.get());
      case Kind::publisher: return on_publisher();
      case Kind::viewer: {
        auto* v = static_cast<FloorViewer*>(c);
        if (!v->dead) on_viewer(v, events);
        return;
      }
    }
  }

  /// Removes (and closes) viewers marked dead. Called once after each epoll batch, so no event of
  /// the batch can point at a freed viewer.
  void reap() {
    for (size_t i = 0; i < viewers_.size();) {  // bounded by viewers_.size(), which shrinks
      if (!viewers_[i]->dead) {
        ++i;
        continue;
      }
      ++counters_.viewer_closes;
      std::swap(viewers_[i], viewers_.back());
      viewers_[i]->index = i;
      viewers_.pop_back();
    }
  }

  /// Totals since start.
  const Counters& counters() const { return counters_; }
  /// Viewers connected (handshaking or open).
  size_t viewer_count() const { return viewers_.size(); }
  /// True while a publisher is connected.
  bool has_publisher() const { return publisher_ != nullptr; }

 private:
  bool watch(Conn* c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, c->fd.get(), &ev) == 0;
  }

  void accept_publishers(int lfd) {
    for (int k = 0; k < kMaxAcceptsPerEvent; ++k) {
      UniqueFd fd(accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd.valid()) return;
      if (publisher_) {  // one publisher at a time: refuse the second
        ++counters_.publishers_refused;
        std::fprintf(stderr, "mpegcast-bench-floor: second publisher refused\n");
        continue;
      }
      publisher_ = std::make_unique<Conn>(Kind::publisher);
      publisher_->fd = std::move(fd);
      if (!watch(publisher_.get(), EPOLLIN)) {
        publisher_.reset();
        continue;
      }
      aligner_.reset();
      ++counters_.publishers;
      std::fprintf(stderr, "mpegcast-bench-floor: publisher connected\n");
    }
  }

  void accept_viewers(int lfd) {
    for (int k = 0; k < kMaxAcceptsPerEvent; ++k) {
      UniqueFd fd(accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd.valid()) return;
      // Like the relay's viewer_sndbuf_bytes: a viewer that stops reading shows up quickly.
      setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf_bytes_, sizeof sndbuf_bytes_);
      set_tcp_nodelay(fd.get());
      auto v = std::make_unique<FloorViewer>();
      v->fd = std::move(fd);
      if (!watch(v.get(), EPOLLIN | EPOLLRDHUP)) continue;
      v->index = viewers_.size();
      ++counters_.viewers_accepted;
      viewers_.push_back(std::move(v));
    }
  }

  void on_publisher() {
    const ssize_t n = read(publisher_->fd.get(), buf_.data(), buf_.size());
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      std::fprintf(stderr, "mpegcast-bench-floor: publisher gone\n");
      publisher_.reset();  // closes; epoll forgets closed fds
      return;
    }
    if (n < 0) return;
    counters_.bytes_in += static_cast<uint64_t>(n);
    ++counters_.reads;
    // Whole TS packets only (remainder kept for the next read; resync on 0x47).
    aligner_.feed(buf_.data(), static_cast<size_t>(n),
                  [this](const uint8_t* packets, size_t count) { fan_out(packets, count * mpegcast::kTsPacketSize); });
  }

  /// One writev per open viewer: WebSocket binary frame header + the packets.
  /// EAGAIN with nothing written: the frame is dropped for that viewer (framing stays intact, the
  /// viewer just misses these packets). A short write: the viewer is closed, because the rest of
  /// the frame would have to be queued and the floor has no queues.
  void fan_out(const uint8_t* data, size_t len) {
    uint8_t hdr[10];
    const size_t hlen = websocket_frame_header(hdr, 0x2, len);
    iovec iov[2] = {{hdr, hlen}, {const_cast<uint8_t*>(data), len}};
    const size_t total = hlen + len;
    for (auto& vp : viewers_) {
      FloorViewer& v = *vp;
      if (!v.open || v.dead) continue;
      const ssize_t w = writev(v.fd.get(), iov, 2);
      if (w == static_cast<ssize_t>(total)) {
        counters_.bytes_out += total;
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ++counters_.frames_dropped;
      } else {
        if (w >= 0) ++counters_.short_write_closes;
        v.dead = true;
      }
    }
  }

  void on_viewer(FloorViewer* v, uint32_t events) {
    char buf[4096];
    for (int k = 0; k < kMaxViewerReadsPerEvent && !v->dead; ++k) {
      const ssize_t n = recv(v->fd.get(), buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        v->dead = true;
        break;
      }
      if (n < 0) break;
      if (v->open) continue;  // whatever a viewer says after the handshake is ignored
      v->head.append(buf, static_cast<size_t>(n));
      const size_t end = find_head_end(v->head);
      if (end == std::string::npos) {
        if (v->head.size() > kMaxHeadBytes) v->dead = true;
        continue;
      }
      const std::string key = header_value(v->head.substr(0, end), "Sec-WebSocket-Key");
      if (key.empty()) {
        static const char kBad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        (void)!send(v->fd.get(), kBad, sizeof kBad - 1, MSG_NOSIGNAL);
        v->dead = true;
        break;
      }
      const std::string reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: " + websocket_accept(key) + "\r\n\r\n";
      if (send(v->fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) {
        v->dead = true;
        break;
      }
      v->open = true;
      v->head = std::string();
    }
    if (events & (EPOLLHUP | EPOLLERR)) v->dead = true;
  }

  int epfd_;
  int sndbuf_bytes_;
  std::vector<std::unique_ptr<Conn>> listeners_;
  std::unique_ptr<Conn> publisher_;
  std::vector<std::unique_ptr<FloorViewer>> viewers_;
  mpegcast::TsAligner aligner_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kReadBytes);
  Counters counters_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mpegcast-bench-floor: the floor relay. Accepts one raw TCP publisher of MPEG-TS on --ingest-port and\n"
      "WebSocket viewers on --port (any path), both on 127.0.0.1, and sends every read from the publisher\n"
      "(cut to whole TS packets) to every viewer with one writev. No GOP cache (a new viewer waits for the\n"
      "next keyframe), no queues (a viewer whose socket is full misses frames; a short write closes it).",
      "mpegcast-bench-floor"};
  int port = 0, ingest_port = 0, sndbuf = 65536;
  double status_interval_s = 5;
  app.add_option("--port", port, "viewer port on 127.0.0.1")->required()->check(CLI::Range(1, 65535));
  app.add_option("--ingest-port", ingest_port, "publisher port on 127.0.0.1")->required()->check(CLI::Range(1, 65535));
  app.add_option("--viewer-sndbuf-bytes", sndbuf, "SO_SNDBUF per viewer socket (default 65536, as the relay)")
      ->check(CLI::Range(4096, 64 << 20));
  app.add_option("--status-interval-s", status_interval_s, "time between status lines on stderr (default 5)")
      ->check(CLI::Range(0.1, 3600.0));
  CLI11_PARSE(app, argc, argv);

  raise_nofile_limit();
  install_stop_signals(on_signal);

  UniqueFd epfd(epoll_create1(EPOLL_CLOEXEC));
  if (!epfd.valid()) {
    std::perror("epoll_create1");
    return 1;
  }
  Floor floor(epfd.get(), sndbuf);
  std::string error;
  UniqueFd vl = listen_tcp(loopback_address(static_cast<uint16_t>(port)), 4096, error);
  if (!vl.valid() || !floor.add_listener(Kind::viewer_listener, std::move(vl))) {
    std::fprintf(stderr, "mpegcast-bench-floor: viewers on 127.0.0.1:%d: %s\n", port, error.c_str());
    return 1;
  }
  UniqueFd il = listen_tcp(loopback_address(static_cast<uint16_t>(ingest_port)), 16, error);
  if (!il.valid() || !floor.add_listener(Kind::ingest_listener, std::move(il))) {
    std::fprintf(stderr, "mpegcast-bench-floor: ingest on 127.0.0.1:%d: %s\n", ingest_port, error.c_str());
    return 1;
  }
  std::fprintf(stderr, "mpegcast-bench-floor: viewers on ws://127.0.0.1:%d/, publisher on tcp://127.0.0.1:%d\n", port, ingest_port);

  const uint64_t status_step = static_cast<uint64_t>(status_interval_s * 1e9);
  uint64_t next_status = monotonic_ns() + status_step, last_status = monotonic_ns();
  Counters last{};
  std::vector<epoll_event> events(1024);
  while (!g_stop.load()) {  // runs until SIGINT/SIGTERM (run.py stops it)
    const int got = epoll_wait(epfd.get(), events.data(), static_cast<int>(events.size()), 1000);
    for (int k = 0; k < got; ++k) floor.on_event(static_cast<Conn*>(events[k].data.ptr), events[k].events);
    floor.reap();
    const uint64_t now = monotonic_ns();
    if (now >= next_status) {
      const Counters& c = floor.counters();
      const double dt = static_cast<double>(now - last_status) / 1e9;
      std::fprintf(stderr,
                   "mpegcast-bench-floor: %zu viewers, publisher %s, in %.3f Mbit/s, out %.1f Mbit/s, %" PRIu64
                   " frames dropped, %" PRIu64 " short-write closes, %" PRIu64 " viewer closes\n",
                   floor.viewer_count(), floor.has_publisher() ? "on" : "off",
                   static_cast<double>(c.bytes_in - last.bytes_in) * 8 / dt / 1e6,
                   static_cast<double>(c.bytes_out - last.bytes_out) * 8 / dt / 1e6, c.frames_dropped, c.short_write_closes,
                   c.viewer_closes);
      last = c;
      last_status = now;
      next_status = now + status_step;
    }
  }
  std::fprintf(stderr, "mpegcast-bench-floor: stopping\n");
  return 0;
}
