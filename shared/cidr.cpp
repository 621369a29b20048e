#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace mpegcast {
namespace {

std::array<unsigned char, 16> mapped_v4(const in_addr& a) {
  std::array<unsigned char, 16> out{};
  out[10] = 0xFF;
  out[11] = 0xFF;
  std::memcpy(&out[12], &a, 4);
  return out;
}

bool in_net(const std::array<unsigned char, 16>& a, const Cidr& net) {
  int bits = net.prefix_bits;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xFF : static_cast<unsigned char>(0xFF << (8 - bits));
    if ((a[i] & mask) != (net.addr[i] & mask)) return false;
  }
  return true;
}

}  // namespace

std::optional<Cidr> parse_cidr(const std::string& text) {
  const size_t slash = text.find('/');
  const std::string host = text.substr(0, slash);
  Cidr c;
  int max_bits = 0;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    c.addr = mapped_v4(v4);
    max_bits = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(c.addr.data(), &v6, 16);
    max_bits = 128;
  } else {
    return std::nullopt;
  }
  int bits = max_bits;
  if (slash != std::string::npos) {
    const std::string b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    bits = std::stoi(b);
    if (bits > max_bits) return std::nullopt;
  }
  c.prefix_bits = max_bits == 32 ? 96 + bits : bits;
  return c;
}

bool CidrList::allows(const sockaddr* sa) const {
  if (nets_.empty()) return true;
  std::array<unsigned char, 16> a{};
  if (sa->sa_family == AF_INET) {
    a = mapped_v4(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(a.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  } else {
    return false;
  }
  for (const Cidr& n : nets_) {
    if (in_net(a, n)) return true;
  }
  return false;
}

}  // namespace mpegcast
