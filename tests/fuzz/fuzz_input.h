// Splits a fuzzer's input into control values and payload bytes, the same way for libFuzzer and
// for replay builds (g++ has no <fuzzer/FuzzedDataProvider.h>).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mpegcast::fuzz {

/// Control values (sizes, clock steps, choices) are taken from the END of the input, payload
/// bytes from the FRONT, so a seed that is a plain file (a .ts recording, an HTTP request) is
/// still mostly payload, read in order. Once the two meet every value reads as 0 and payload
/// reads return nothing.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  /// One control byte (0 when exhausted).
  uint8_t u8() {
    if (size_ == 0) return 0;
    --size_;
    return data_[size_];
  }
  /// Two control bytes, little end first (0 when exhausted).
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  /// A control value in [lo, hi] (lo when exhausted).
  size_t range(size_t lo, size_t hi) {
    const size_t span = hi - lo + 1;
    const size_t v = span > 256 ? u16() : u8();
    return lo + v % span;
  }
  bool flag() { return (u8() & 1) != 0; }

  /// Up to `want` payload bytes from the front: sets `out` and returns how many there were.
  size_t bytes(size_t want, const uint8_t*& out) {
    const size_t n = want < size_ ? want : size_;
    out = data_;
    data_ += n;
    size_ -= n;
    return n;
  }
  /// All remaining bytes as a string (payload and control alike).
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(data_), size_);
    data_ += size_;
    size_ = 0;
    return s;
  }
  size_t remaining() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace mpegcast::fuzz
