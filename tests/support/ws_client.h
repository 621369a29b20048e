// A minimal blocking WebSocket client (RFC 6455) for tests: a viewer of ws://127.0.0.1:PORT/live/NAME,
// or a publisher of ws://127.0.0.1:PORT/publish/NAME.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http_message.h"
#include "tcp_socket.h"

namespace mpegcast::test {

/// Connects with a random Sec-WebSocket-Key, checks Sec-WebSocket-Accept, then collects the
/// payload of binary messages. Answers pings; answers a close and stops.
class WsClient {
 public:
  /// `subprotocol`: sent as Sec-WebSocket-Protocol when not empty (e.g. "null", as old JSMpeg does).
  WsClient(uint16_t port, std::string path, std::string subprotocol = "")
      : port_(port), path_(std::move(path)), subprotocol_(std::move(subprotocol)) {}

  /// Opening handshake. Returns false with `error()` set when the server refuses or answers wrongly.
  bool connect(int timeout_ms = 3000);

  /// Reads frames for `ms` milliseconds, appending binary payloads to `data()`.
  /// Returns false when the connection closed or failed during that time.
  bool read_for(int ms);

  /// Sends one masked message (binary, or text when `text`); blocking. Throws on a socket error.
  void send_message(const uint8_t* payload, size_t len, bool text = false) { send_frame(text ? 0x1 : 0x2, payload, len); }

  /// Sends one masked ping with `payload` (≤ 125 bytes); blocking. Throws on a socket error.
  void send_ping(const std::string& payload) {
    send_frame(0x9, reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  }

  /// Sends a close frame (status 1000) and closes the socket.
  void close();

  bool connected() const { return sock_.valid() && !closed_; }
  /// SO_RCVBUF for the socket connect() opens (0: the system's default).
  void set_receive_buffer(int bytes) { rcvbuf_bytes_ = bytes; }
  const std::vector<uint8_t>& data() const { return data_; }
  /// Complete binary messages received.
  size_t message_count() const { return messages_; }
  /// Payload size of each complete binary message, in arrival order.
  const std::vector<size_t>& message_sizes() const { return message_sizes_; }
  size_t text_message_count() const { return text_messages_; }
  size_t pings_answered() const { return pings_; }
  size_t pongs_received() const { return pongs_; }
  /// When the first binary payload byte arrived, if any.
  std::optional<Clock::time_point> first_byte_time() const { return first_byte_; }
  /// When the handshake completed.
  Clock::time_point connect_time() const { return connect_time_; }
  int handshake_status() const { return status_; }
  const HttpHeaders& handshake_headers() const { return headers_; }
  bool closed_by_server() const { return closed_; }
  uint16_t close_code() const { return close_code_; }
  const std::string& error() const { return error_; }

 private:
  bool parse_frames();
  void send_frame(uint8_t opcode, const uint8_t* payload, size_t len);

  uint16_t port_;
  std::string path_, subprotocol_;
  int rcvbuf_bytes_ = 0;
  TcpSocket sock_;
  std::vector<uint8_t> rx_, data_;
  int status_ = 0;
  HttpHeaders headers_;
  bool closed_ = false;
  uint16_t close_code_ = 0;
  uint8_t msg_opcode_ = 0;  // opcode of the message being reassembled (1 text, 2 binary)
  size_t messages_ = 0, text_messages_ = 0, pings_ = 0, pongs_ = 0;
  size_t current_size_ = 0;  // bytes of the binary message being reassembled
  std::vector<size_t> message_sizes_;
  std::string error_;
  std::optional<Clock::time_point> first_byte_;
  Clock::time_point connect_time_{};
};

}  // namespace mpegcast::test
