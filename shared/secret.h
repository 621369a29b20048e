// Constant-time comparison of secrets.
#pragma once
#include <cstddef>
#include <string_view>

namespace mpegcast {

/// True when `given` equals `expected`. Runs in time that depends only on the lengths, not on
/// where the strings differ, so a publisher cannot guess a secret byte by byte from timings.
inline bool secret_equals(std::string_view given, std::string_view expected) {
  volatile unsigned char diff = static_cast<unsigned char>(given.size() != expected.size());
  const size_t n = expected.size();
  for (size_t i = 0; i < given.size(); ++i) {
    const unsigned char e = n ? static_cast<unsigned char>(expected[i % n]) : 0;
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(given[i]) ^ e));
  }
  return diff == 0 && !expected.empty();
}

}  // namespace mpegcast
