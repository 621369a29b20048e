#include "http_message.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>

namespace mpegcast::test {

size_t find_head_end(const std::vector<uint8_t>& buf) {
  static const char kEnd[] = "\r\n\r\n";
  auto it = std::search(buf.begin(), buf.end(), kEnd, kEnd + 4);
  return it == buf.end() ? 0 : static_cast<size_t>(it - buf.begin()) + 4;
}

int parse_response_head(const std::string& head, HttpHeaders& headers) {
  std::istringstream in(head);
  std::string line;
  if (!std::getline(in, line)) return -1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.compare(0, 5, "HTTP/") != 0) return -1;
  auto sp = line.find(' ');
  if (sp == std::string::npos || sp + 4 > line.size()) return -1;
  int status = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return -1;
    status = status * 10 + (line[i] - '0');
  }
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t v = colon + 1;
    while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
    std::string value = line.substr(v);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    auto& slot = headers[name];
    slot = slot.empty() ? value : slot + ", " + value;
  }
  return status;
}

bool ChunkedDecoder::feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out) {
  size_t i = 0;
  while (i < len) {
    switch (state_) {
      case State::done:
        return true;
      case State::failed:
        return false;
      case State::size_line:
      case State::data_crlf:
      case State::trailer: {
        char c = static_cast<char>(data[i++]);
        if (c != '\n') {
          line_ += c;
          if (line_.size() > 4096) {
            error_ = "chunk line longer than 4096 bytes";
            state_ = State::failed;
            return false;
          }
          break;
        }
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        std::string line;
        line.swap(line_);
        if (state_ == State::data_crlf) {
          if (!line.empty()) {
            error_ = "missing CRLF after chunk data";
            state_ = State::failed;
            return false;
          }
          state_ = State::size_line;
        } else if (state_ == State::trailer) {
          if (line.empty()) state_ = State::done;
        } else {
          auto semi = line.find(';');
          std::string hex = line.substr(0, semi);
          while (!hex.empty() && (hex.back() == ' ' || hex.back() == '\t')) hex.pop_back();
          if (hex.empty() || hex.size() > 15 ||
              !std::all_of(hex.begin(), hex.end(), [](unsigned char h) { return std::isxdigit(h); })) {
            error_ = "bad chunk size line '" + line + "'";
            state_ = State::failed;
            return false;
          }
          left_ = std::stoull(hex, nullptr, 16);
          state_ = left_ ? State::data : State::trailer;
        }
        break;
      }
      case State::data: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left_, len - i));
        out.insert(out.end(), data + i, data + i + n);
        i += n;
        left_ -= n;
        if (!left_) state_ = State::data_crlf;
        break;
      }
    }
  }
  return state_ != State::failed;
}

}  // namespace mpegcast::test
