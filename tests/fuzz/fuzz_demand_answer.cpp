// fuzz_demand_answer: capture/demand.h viewers_in_stream_json(), how the capture agent reads a
// relay's GET /api/v1/streams/<name> answer for on-demand encoding (any bytes a misconfigured
// demand_urls entry or a hostile server sends). Asserted: a reading is never negative, and a
// document that says {"viewers": N} with N >= 0 reads as N.
#include <cstdint>
#include <string>
#include <string_view>

#include "demand.h"
#include "fuzz_check.h"

using namespace mpegcast::capture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (const auto v = viewers_in_stream_json(body)) FUZZ_CHECK(*v >= 0);
  // A number made of the input's first bytes, in a minimal document, reads back exactly.
  int64_t n = 0;
  for (size_t i = 0; i < size && i < 18; ++i) n = n * 10 + data[i] % 10;
  const auto v = viewers_in_stream_json("{\"viewers\":" + std::to_string(n) + "}");
  FUZZ_CHECK(v.has_value() && *v == n);
  return 0;
}
