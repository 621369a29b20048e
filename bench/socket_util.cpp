#include "socket_util.h"

#include <csignal>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "url.h"

namespace mpegcast::bench {

bool parse_loopback_url(const std::string& text, LoopbackUrl& out, std::string& error) {
  const auto url = parse_url(text);
  if (!url || url->port == 0) {
    error = "\"" + text + "\" is not scheme://HOST:PORT[/path]";
    return false;
  }
  std::string host = url->host == "localhost" ? "127.0.0.1" : url->host;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
    error = "\"" + url->host + "\" is not a loopback address (127.x.x.x or localhost): the benchmarks stay on this machine";
    return false;
  }
  out.scheme = url->scheme;
  out.addr = sockaddr_in{};
  out.addr.sin_family = AF_INET;
  out.addr.sin_addr = a;
  out.addr.sin_port = htons(static_cast<uint16_t>(url->port));
  out.host_port = host + ":" + std::to_string(url->port);
  out.path = url->path.empty() ? "/" : url->path;
  if (!url->query.empty()) out.path += "?" + url->query;
  return true;
}

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

UniqueFd listen_tcp(const sockaddr_in& addr, int backlog, std::string& error) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    error = std::string("socket: ") + std::strerror(errno);
    return UniqueFd();
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error = std::string("bind: ") + std::strerror(errno);
    return UniqueFd();
  }
  if (listen(fd.get(), backlog) != 0) {
    error = std::string("listen: ") + std::strerror(errno);
    return UniqueFd();
  }
  return fd;
}

bool set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

void set_tcp_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

uint64_t raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return static_cast<uint64_t>(rl.rlim_cur);
}

uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET) return 0;
  return ntohs(a.sin_port);
}

void install_stop_signals(void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace mpegcast::bench
