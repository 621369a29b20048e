// Reading a live stream for a while from any test viewer (WsClient, HttpStreamReader).
#pragma once
#include <algorithm>
#include <chrono>

#include "tcp_socket.h"

namespace mpegcast::test {

/// Reads until the first byte arrives (at most `first_byte_timeout_ms`), then until `after_ms`
/// past it. `Viewer` needs `bool read_for(int ms)` and `std::optional<Clock::time_point>
/// first_byte_time()`. Returns the seconds of stream received (first byte → end of reading),
/// 0 if nothing arrived.
template <class Viewer>
double collect(Viewer& v, int first_byte_timeout_ms, int after_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(first_byte_timeout_ms);
  while (!v.first_byte_time() && Clock::now() < deadline)
    if (!v.read_for(100)) break;
  if (!v.first_byte_time()) return 0.0;
  const auto end = *v.first_byte_time() + std::chrono::milliseconds(after_ms);
  while (Clock::now() < end) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (!v.read_for(static_cast<int>(std::max<long>(1, left)))) break;
  }
  return std::chrono::duration<double>(Clock::now() - *v.first_byte_time()).count();
}

}  // namespace mpegcast::test
