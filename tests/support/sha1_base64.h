// SHA-1 (FIPS 180-4) and base64 (RFC 4648 §4), just enough for the WebSocket handshake.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace mpegcast::test {

/// The 20-byte SHA-1 digest of `data`.
std::array<uint8_t, 20> sha1(const std::string& data);

/// Standard base64 with '=' padding.
std::string base64(const uint8_t* data, size_t len);

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
std::string websocket_accept(const std::string& key);

}  // namespace mpegcast::test
