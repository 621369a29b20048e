// The parts of RFC 6455 (WebSocket) the benchmark viewers and the floor relay need: the opening
// handshake (§4.1, §4.2) and server frame headers (§5.2).
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace mpegcast::bench {

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)) (§4.2.2).
std::string websocket_accept(const std::string& key);

/// A fresh Sec-WebSocket-Key: base64 of 16 random bytes from `rng`.
std::string random_websocket_key(std::mt19937_64& rng);

/// The client's upgrade request for `path` on `host_port` with `key`.
std::string websocket_upgrade_request(const std::string& host_port, const std::string& path, const std::string& key);

/// Offset just past the first "\r\n\r\n" in `data`, or std::string::npos.
size_t find_head_end(const std::string& data);

/// Value of header `name` (case-insensitive, surrounding blanks trimmed) in an HTTP head, "" if absent.
std::string header_value(const std::string& head, const char* name);

/// Checks a server's answer to our upgrade: status 101 and the right Sec-WebSocket-Accept for
/// `key`. Returns false with a short reason in `why` otherwise.
bool check_upgrade_response(const std::string& head, const std::string& key, std::string& why);

/// Writes an unmasked, final server frame header for `payload_len` bytes of `opcode` into `out`
/// (at least 10 bytes); returns its size (2, 4 or 10 bytes).
size_t websocket_frame_header(uint8_t* out, uint8_t opcode, uint64_t payload_len);

/// Longest frame header a client writes for a control frame (2 + 4 mask bytes).
constexpr size_t kClientControlHeader = 6;

}  // namespace mpegcast::bench
