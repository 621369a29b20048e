#include "ws_client.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <random>

#include "sha1_base64.h"

namespace mpegcast::test {
namespace {

std::mt19937& rng() {
  static std::mt19937 r{std::random_device{}()};
  return r;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

bool WsClient::connect(int timeout_ms) {
  try {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    sock_ = TcpSocket::connect_loopback(port_, timeout_ms, rcvbuf_bytes_);
    uint8_t nonce[16];
    for (auto& b : nonce) b = static_cast<uint8_t>(rng()());
    const std::string key = base64(nonce, sizeof(nonce));
    std::string req = "GET " + path_ + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                      "\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:" + std::to_string(port_) + "\r\n";
    if (!subprotocol_.empty()) req += "Sec-WebSocket-Protocol: " + subprotocol_ + "\r\n";
    req += "\r\n";
    sock_.write_all(req);
    std::vector<uint8_t> buf;
    uint8_t tmp[4096];
    size_t end = 0;
    while (!end) {
      long n = sock_.read_some(tmp, sizeof(tmp), deadline);
      if (n < 0) {
        error_ = "handshake: no response within " + std::to_string(timeout_ms) + " ms";
        return false;
      }
      if (n == 0) {
        error_ = "handshake: connection closed before a response head (" + std::to_string(buf.size()) + " bytes)";
        return false;
      }
      buf.insert(buf.end(), tmp, tmp + n);
      end = find_head_end(buf);
    }
    const std::string head(buf.begin(), buf.begin() + end);
    status_ = parse_response_head(head, headers_);
    rx_.assign(buf.begin() + end, buf.end());
    if (status_ != 101) {
      error_ = "handshake: status " + std::to_string(status_) + ", expected 101; head: " + head;
      return false;
    }
    auto h = [&](const char* name) {
      auto it = headers_.find(name);
      return it == headers_.end() ? std::string() : it->second;
    };
    if (lower(h("upgrade")) != "websocket") {
      error_ = "handshake: Upgrade header is '" + h("upgrade") + "'";
      return false;
    }
    if (lower(h("connection")).find("upgrade") == std::string::npos) {
      error_ = "handshake: Connection header is '" + h("connection") + "'";
      return false;
    }
    const std::string want = websocket_accept(key);
    if (h("sec-websocket-accept") != want) {
      error_ = "handshake: Sec-WebSocket-Accept is '" + h("sec-websocket-accept") + "', expected '" + want + "'";
      return false;
    }
    const std::string proto = h("sec-websocket-protocol");
    if (!proto.empty() && proto != subprotocol_) {
      error_ = "handshake: server chose subprotocol '" + proto + "' that was not offered";
      return false;
    }
    connect_time_ = Clock::now();
    return parse_frames();
  } catch (const std::exception& e) {
    error_ = std::string("connect: ") + e.what();
    return false;
  }
}

void WsClient::send_frame(uint8_t opcode, const uint8_t* payload, size_t len) {
  std::vector<uint8_t> f;
  f.push_back(static_cast<uint8_t>(0x80 | opcode));
  if (len < 126) {
    f.push_back(static_cast<uint8_t>(0x80 | len));
  } else if (len < 65536) {
    f.push_back(0x80 | 126);
    f.push_back(static_cast<uint8_t>(len >> 8));
    f.push_back(static_cast<uint8_t>(len));
  } else {
    f.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<uint8_t>(uint64_t(len) >> (8 * i)));
  }
  uint8_t mask[4];
  for (auto& b : mask) b = static_cast<uint8_t>(rng()());
  f.insert(f.end(), mask, mask + 4);
  for (size_t i = 0; i < len; ++i) f.push_back(payload[i] ^ mask[i % 4]);
  sock_.write_all(f.data(), f.size());
}

// Consumes complete frames from rx_. Returns false on a protocol error or a close.
bool WsClient::parse_frames() {
  size_t pos = 0;
  bool ok = true;
  while (ok) {
    const size_t avail = rx_.size() - pos;
    if (avail < 2) break;
    const uint8_t* p = rx_.data() + pos;
    const bool fin = p[0] & 0x80;
    const uint8_t opcode = p[0] & 0x0F;
    const bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t(p[2]) << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (masked) hdr += 4;
    if (avail < hdr || avail - hdr < len) break;
    std::vector<uint8_t> payload(p + hdr, p + hdr + len);
    if (masked) {
      const uint8_t* m = p + hdr - 4;
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= m[i % 4];
    }
    pos += hdr + static_cast<size_t>(len);
    switch (opcode) {
      case 0x0:  // continuation
      case 0x1:  // text
      case 0x2: {  // binary
        if (opcode != 0) msg_opcode_ = opcode;
        if (msg_opcode_ == 2) {
          if (!first_byte_ && !payload.empty()) first_byte_ = Clock::now();
          data_.insert(data_.end(), payload.begin(), payload.end());
          current_size_ += payload.size();
        }
        if (fin) {
          if (msg_opcode_ == 2) {
            ++messages_;
            message_sizes_.push_back(current_size_);
          } else {
            ++text_messages_;
          }
          current_size_ = 0;
        }
        break;
      }
      case 0x8:  // close
        closed_ = true;
        close_code_ = payload.size() >= 2 ? static_cast<uint16_t>((payload[0] << 8) | payload[1]) : 1005;
        try {
          send_frame(0x8, payload.data(), std::min<size_t>(payload.size(), 2));
        } catch (const std::exception&) {
        }
        ok = false;
        break;
      case 0x9:  // ping
        send_frame(0xA, payload.data(), payload.size());
        ++pings_;
        break;
      case 0xA:  // pong
        ++pongs_;
        break;
      default:
        error_ = "protocol: unknown opcode " + std::to_string(opcode);
        ok = false;
    }
  }
  rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(pos));
  return ok;
}

bool WsClient::read_for(int ms) {
  if (!sock_.valid() || closed_ || !error_.empty()) return false;
  try {
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    uint8_t tmp[65536];
    while (true) {
      long n = sock_.read_some(tmp, sizeof(tmp), deadline);
      if (n < 0) return true;
      if (n == 0) {
        closed_ = true;
        if (error_.empty()) error_ = "connection closed by the server without a close frame";
        return false;
      }
      rx_.insert(rx_.end(), tmp, tmp + n);
      if (!parse_frames()) return false;
    }
  } catch (const std::exception& e) {
    error_ = e.what();
    return false;
  }
}

void WsClient::close() {
  if (sock_.valid() && !closed_) {
    const uint8_t code[2] = {0x03, 0xE8};
    try {
      send_frame(0x8, code, 2);
    } catch (const std::exception&) {
    }
  }
  sock_.close();
}

}  // namespace mpegcast::test
