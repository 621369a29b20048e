// Parsing of the URLs and listen addresses on our command lines and in our configs.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace mpegcast {

/// scheme://host[:port][/path][?query]. IPv6 hosts in brackets ("[::1]") are returned without them.
struct Url {
  std::string scheme;  // lower case: "http", "ws", "tcp", "udp", "srt", …
  std::string host;
  int port = 0;        // 0 when absent
  std::string path;    // "/" when absent
  std::string query;   // without '?'
};

/// Returns nullopt for anything without "scheme://host" or with a port outside 1..65535.
std::optional<Url> parse_url(std::string_view text);

/// Value of `key` in an application/x-www-form-urlencoded query ("a=1&secret=x"), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view key);

/// Percent-decodes `text` ('+' stays '+'); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

/// A listen address "[ADDR:]PORT" (ADDR an IPv4 address, a host name, or "[IPv6]").
struct ListenAddress {
  std::string host;  // empty: `default_host`
  int port = 0;      // 0..65535 (0: any free port)
};

/// Parses "[ADDR:]PORT"; returns nullopt when the port is not a number in 0..65535.
std::optional<ListenAddress> parse_listen_address(std::string_view text, const std::string& default_host);

/// `url` fit for logs and the API: the user:password of its authority and the values of its
/// `secret=`, `passphrase=` (SRT) and `token=` query parameters replaced by "***".
std::string redact_url(std::string_view url);

/// `text` (a log line of a library) with the user:password of every URL in it replaced by "***".
std::string redact_urls_in_text(std::string_view text);

/// Parses a TCP/UDP port number 0..65535 (digits only).
std::optional<int> parse_port(std::string_view text);

}  // namespace mpegcast
