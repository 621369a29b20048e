#include "cascade_via.h"

#include <algorithm>

namespace mpegcast::relay {

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f && c != ','; });
}

std::vector<std::string> parse_via(std::string_view header) {
  std::vector<std::string> out;
  while (!header.empty() && out.size() < kMaxViaEntries) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    const size_t first = item.find_first_not_of(" \t");
    if (first != std::string_view::npos) {
      const size_t last = item.find_last_not_of(" \t");
      out.emplace_back(item.substr(first, last - first + 1));
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return out;
}

std::string check_via(const std::vector<std::string>& via, const std::string& own_node_id, int64_t max_hops) {
  // First, so the phrases below only ever quote node ids (they are logged and sent back in the 508).
  for (size_t i = 0; i < via.size(); ++i) {
    if (!valid_node_id(via[i])) return "bad path: entry " + std::to_string(i + 1) + " is not a node id";
  }
  for (size_t i = 0; i < via.size(); ++i) {
    if (via[i] == own_node_id) return "loop: node " + own_node_id + " already in the path";
    for (size_t j = 0; j < i; ++j) {
      if (via[j] == via[i]) return "loop: node " + via[i] + " appears twice in the path";
    }
  }
  if (static_cast<int64_t>(via.size()) > max_hops) {
    return "too deep: " + std::to_string(via.size()) + " hops > " + std::to_string(max_hops);
  }
  return {};
}

std::string format_via(const std::vector<std::string>& via) {
  std::string out;
  for (const std::string& node : via) {
    if (!out.empty()) out += ", ";
    out += node;
  }
  return out;
}

}  // namespace mpegcast::relay
