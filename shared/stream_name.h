// Stream names: [A-Za-z0-9_-]{1,64} (DESIGN.md, "Stream hub").
#pragma once
#include <string_view>

namespace mpegcast {

constexpr size_t kMaxStreamNameLength = 64;

/// True when `name` is 1..64 characters from [A-Za-z0-9_-].
inline bool valid_stream_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxStreamNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace mpegcast
