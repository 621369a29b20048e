#include "tcp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mpegcast::test {
namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

int ms_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

TcpSocket& TcpSocket::operator=(TcpSocket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void TcpSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

TcpSocket TcpSocket::connect_loopback(uint16_t port, int timeout_ms, int rcvbuf_bytes, const char* source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) fail("socket", errno);
  TcpSocket s(fd);
  if (rcvbuf_bytes > 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes) != 0) {
    fail("setsockopt SO_RCVBUF", errno);
  }
  if (source) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source, &local.sin_addr) != 1) throw std::runtime_error(std::string("bad source ") + source);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) fail(std::string("bind ") + source, errno);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) fail("connect 127.0.0.1:" + std::to_string(port), errno);
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": timeout");
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) fail("connect 127.0.0.1:" + std::to_string(port), err);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return s;
}

void TcpSocket::write_all(const void* data, size_t len, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto p = static_cast<const uint8_t*>(data);
  while (len) {
    ssize_t n = ::send(fd_, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail("send", errno);
    pollfd pf{fd_, POLLOUT, 0};
    if (::poll(&pf, 1, ms_until(deadline)) <= 0 && Clock::now() >= deadline)
      throw std::runtime_error("send: timeout");
  }
}

long TcpSocket::read_some(uint8_t* buf, size_t cap, Clock::time_point deadline) {
  while (true) {
    ssize_t n = ::recv(fd_, buf, cap, 0);
    if (n >= 0) return static_cast<long>(n);
    if (errno == ECONNRESET) return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail("recv", errno);
    if (Clock::now() >= deadline) return -1;
    pollfd pf{fd_, POLLIN, 0};
    int r = ::poll(&pf, 1, ms_until(deadline));
    if (r < 0 && errno != EINTR) fail("poll", errno);
    if (r == 0) return -1;
  }
}

}  // namespace mpegcast::test
