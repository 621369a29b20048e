#include "url.h"

#include <cctype>

namespace mpegcast {

std::optional<int> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return std::nullopt;
  return v;
}

namespace {
// Splits "host[:port]" (host may be "[v6]"). Returns false when malformed.
bool split_host_port(std::string_view hp, std::string& host, std::optional<int>& port) {
  port.reset();
  if (!hp.empty() && hp.front() == '[') {
    const size_t close = hp.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(hp.substr(1, close - 1));
    std::string_view rest = hp.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = parse_port(rest.substr(1));
    return port.has_value();
  }
  const size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) {
    host = std::string(hp);
    return true;
  }
  host = std::string(hp.substr(0, colon));
  port = parse_port(hp.substr(colon + 1));
  return port.has_value();
}
}  // namespace

std::optional<Url> parse_url(std::string_view text) {
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  Url u;
  for (char c : text.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return std::nullopt;
    u.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::string_view rest = text.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  if (authority.find('@') != std::string_view::npos) authority = authority.substr(authority.rfind('@') + 1);
  std::optional<int> port;
  if (!split_host_port(authority, u.host, port) || u.host.empty()) return std::nullopt;
  if (port) {
    if (*port == 0) return std::nullopt;
    u.port = *port;
  }
  std::string_view tail = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  const size_t q = tail.find('?');
  u.path = std::string(tail.substr(0, q));
  if (u.path.empty()) u.path = "/";
  if (q != std::string_view::npos) u.query = std::string(tail.substr(q + 1));
  return u;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<ListenAddress> parse_listen_address(std::string_view text, const std::string& default_host) {
  ListenAddress a;
  if (auto p = parse_port(text)) {
    a.host = default_host;
    a.port = *p;
    return a;
  }
  std::optional<int> port;
  if (!split_host_port(text, a.host, port) || !port || a.host.empty()) return std::nullopt;
  a.port = *port;
  return a;
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  // user:password@ in the authority
  const size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const size_t auth_start = scheme_end + 3;
    const size_t auth_end = out.find_first_of("/?#", auth_start);
    const size_t at = out.rfind('@', auth_end == std::string::npos ? out.size() : auth_end);
    if (at != std::string::npos && at >= auth_start) out.replace(auth_start, at - auth_start, "***");
  }
  // secret=… in the query
  const size_t q = out.find('?');
  if (q != std::string::npos) {
    size_t pos = q + 1;
    while (pos < out.size()) {
      size_t end = out.find('&', pos);
      if (end == std::string::npos) end = out.size();
      const std::string param = out.substr(pos, end - pos);
      if (param.rfind("secret=", 0) == 0 || param.rfind("passphrase=", 0) == 0 || param.rfind("token=", 0) == 0) {
        const size_t eq = pos + param.find('=') + 1;
        out.replace(eq, end - eq, "***");
        end = eq + 3;
      }
      pos = end + 1;
    }
  }
  return out;
}

std::string redact_urls_in_text(std::string_view text) {
  std::string out(text);
  size_t pos = 0;
  while ((pos = out.find("://", pos)) != std::string::npos) {
    const size_t auth_start = pos + 3;
    size_t auth_end = out.find_first_of("/?# '\"", auth_start);
    if (auth_end == std::string::npos) auth_end = out.size();
    const size_t at = out.rfind('@', auth_end);
    if (at != std::string::npos && at >= auth_start && at < auth_end) {
      out.replace(auth_start, at - auth_start, "***");
      auth_end = auth_start + 3;
    }
    pos = auth_end;
  }
  return out;
}

}  // namespace mpegcast
