// Address allow-lists in CIDR notation ("127.0.0.0/8", "10.1.2.3", "::1/128").
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

struct sockaddr;

namespace mpegcast {

/// One network: address and prefix length. IPv4 networks are stored as IPv4-mapped IPv6, so one
/// compare serves both families.
struct Cidr {
  std::array<unsigned char, 16> addr{};
  int prefix_bits = 128;
};

/// Parses "ADDR[/BITS]"; nullopt when malformed (bad address, BITS > 32 for IPv4 or > 128 for IPv6).
std::optional<Cidr> parse_cidr(const std::string& text);

/// A list of networks; an empty list allows every address.
class CidrList {
 public:
  CidrList() = default;
  explicit CidrList(std::vector<Cidr> nets) : nets_(std::move(nets)) {}
  /// True when `sa` (AF_INET or AF_INET6) is inside one of the networks, or the list is empty.
  bool allows(const sockaddr* sa) const;
  /// True when `sa` is inside one of the networks (false for an empty list).
  bool contains(const sockaddr* sa) const { return !nets_.empty() && allows(sa); }
  bool empty() const { return nets_.empty(); }

 private:
  std::vector<Cidr> nets_;
};

}  // namespace mpegcast
