// Loopback-only socket helpers shared by the benchmark tools.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "unique_fd.h"

namespace mpegcast::bench {

/// A parsed benchmark URL whose host is a loopback address.
struct LoopbackUrl {
  std::string scheme;   // lower case: "http", "tcp", "udp", "ws"
  sockaddr_in addr{};   // 127.x.x.x:port
  std::string host_port;  // "127.0.0.1:8080", for Host headers and logs
  std::string path;     // "/" when absent (query included when present)
};

/// Parses "scheme://HOST:PORT[/path]" where HOST is 127.x.x.x or "localhost" (the benchmarks
/// never leave this machine). Returns false with `error` set otherwise.
bool parse_loopback_url(const std::string& text, LoopbackUrl& out, std::string& error);

/// 127.0.0.1:`port` (port 0..65535).
sockaddr_in loopback_address(uint16_t port);

/// A non-blocking TCP listening socket on `addr` with SO_REUSEADDR and `backlog`. Invalid (with
/// `error` set) on failure.
UniqueFd listen_tcp(const sockaddr_in& addr, int backlog, std::string& error);

/// Sets O_NONBLOCK; false on failure.
bool set_nonblocking(int fd);
/// Disables Nagle's algorithm (TCP_NODELAY), as libwebsockets does on its sockets.
void set_tcp_nodelay(int fd);

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting soft limit (files).
uint64_t raise_nofile_limit();

/// Sends SIGINT and SIGTERM to `handler` (no SA_RESTART: blocking calls return EINTR) and
/// ignores SIGPIPE, so a closed peer shows as EPIPE from write().
void install_stop_signals(void (*handler)(int));

/// Port of the local end of a socket (host byte order), 0 on failure.
uint16_t local_port(int fd);

}  // namespace mpegcast::bench
