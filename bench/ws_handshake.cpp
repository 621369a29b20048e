#include "ws_handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace mpegcast::bench {
namespace {

std::string base64(const uint8_t* data, size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n > 0 ? n : 0));
  return out;
}

bool iequal(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::string websocket_accept(const std::string& key) {
  static const char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  const std::string text = key + kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64(digest, sizeof digest);
}

std::string random_websocket_key(std::mt19937_64& rng) {
  uint8_t nonce[16];
  for (size_t i = 0; i < sizeof nonce; i += 8) {
    const uint64_t r = rng();
    std::memcpy(nonce + i, &r, 8);
  }
  return base64(nonce, sizeof nonce);
}

std::string websocket_upgrade_request(const std::string& host_port, const std::string& path, const std::string& key) {
  return "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
         "\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

size_t find_head_end(const std::string& data) {
  const size_t p = data.find("\r\n\r\n");
  return p == std::string::npos ? p : p + 4;
}

std::string header_value(const std::string& head, const char* name) {
  const size_t name_len = std::strlen(name);
  size_t line = head.find("\r\n");
  for (int guard = 0; line != std::string::npos && guard < 256; ++guard) {  // at most 256 header lines
    const size_t start = line + 2;
    const size_t end = head.find("\r\n", start);
    if (end == std::string::npos || end == start) break;
    if (end - start > name_len && head[start + name_len] == ':' && iequal(head.data() + start, name, name_len)) {
      size_t b = start + name_len + 1, e = end;
      while (b < e && (head[b] == ' ' || head[b] == '\t')) ++b;
      while (e > b && (head[e - 1] == ' ' || head[e - 1] == '\t')) --e;
      return head.substr(b, e - b);
    }
    line = end;
  }
  return {};
}

bool check_upgrade_response(const std::string& head, const std::string& key, std::string& why) {
  // Status line: "HTTP/1.1 101 Switching Protocols"
  const size_t sp = head.find(' ');
  if (head.compare(0, 5, "HTTP/") != 0 || sp == std::string::npos || head.compare(sp + 1, 3, "101") != 0) {
    why = "status line \"" + head.substr(0, std::min<size_t>(head.find("\r\n"), 60)) + "\"";
    return false;
  }
  const std::string accept = header_value(head, "Sec-WebSocket-Accept");
  if (accept != websocket_accept(key)) {
    why = "Sec-WebSocket-Accept \"" + accept + "\" does not match the key";
    return false;
  }
  return true;
}

size_t websocket_frame_header(uint8_t* out, uint8_t opcode, uint64_t payload_len) {
  out[0] = static_cast<uint8_t>(0x80 | (opcode & 0x0F));
  if (payload_len < 126) {
    out[1] = static_cast<uint8_t>(payload_len);
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_len >> 8);
    out[3] = static_cast<uint8_t>(payload_len);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payload_len >> (56 - 8 * i));
  return 10;
}

}  // namespace mpegcast::bench
