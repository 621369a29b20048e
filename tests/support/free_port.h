// A free TCP port on 127.0.0.1, chosen by the kernel.
#pragma once
#include <cstdint>

namespace mpegcast::test {

/// Binds 127.0.0.1:0, reads the port the kernel picked, closes the socket and returns it.
/// The port is free at return; a test should use it at once (another process could take it).
uint16_t free_port();

}  // namespace mpegcast::test
