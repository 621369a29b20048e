// A blocking TCP connection to 127.0.0.1 with deadline-bounded reads and writes, for test clients.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mpegcast::test {

using Clock = std::chrono::steady_clock;

/// An owned, connected socket to 127.0.0.1:port. Move-only; closes on destruction.
class TcpSocket {
 public:
  TcpSocket() = default;
  /// Connects to 127.0.0.1:`port`; throws std::runtime_error on failure or after `timeout_ms`.
  /// `rcvbuf_bytes` > 0 sets SO_RCVBUF before connecting (the window is negotiated for it).
  /// `source` (e.g. "127.0.0.2", any address of 127.0.0.0/8 works on Linux) binds the local end,
  /// so a test can play several peers; nullptr: the kernel picks (127.0.0.1).
  static TcpSocket connect_loopback(uint16_t port, int timeout_ms, int rcvbuf_bytes = 0, const char* source = nullptr);

  TcpSocket(TcpSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  TcpSocket& operator=(TcpSocket&& o) noexcept;
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;
  ~TcpSocket() { close(); }

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close();

  /// Writes all `len` bytes or throws (timeout, peer gone).
  void write_all(const void* data, size_t len, int timeout_ms = 5000);
  void write_all(const std::string& s, int timeout_ms = 5000) { write_all(s.data(), s.size(), timeout_ms); }

  /// Waits until `deadline` for data, then reads what is there (at most `cap` bytes).
  /// Returns > 0 bytes read, 0 on orderly close by the peer, -1 when the deadline passed first.
  /// Throws on socket errors other than a reset (a reset counts as close).
  long read_some(uint8_t* buf, size_t cap, Clock::time_point deadline);

 private:
  explicit TcpSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mpegcast::test
