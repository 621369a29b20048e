// fuzz_cascade_via: relay/cascade_via.h, the X-Mpegcast-Via header a pushed or pulled stream
// carries (any bytes a peer sends): parse_via() on the input's front, then check_via() with a
// max_hops and an own node id picked by the input's end (one of the parsed entries that is a
// valid node id, to make loops likely, or a fixed id). Asserted: parse_via keeps at most
// kMaxViaEntries non-empty entries, each a piece of the header without commas or spaces/tabs at
// its ends, and format_via → parse_via gives the same list back; a path check_via accepts has no
// repeated entry, not the own id, no more than max_hops entries and only valid node ids; a refusal
// is one of the documented phrases, short, and printable ASCII (it is logged and sent back in the
// 508 response).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cascade_via.h"
#include "fuzz_check.h"
#include "fuzz_input.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

void check_entries(const std::vector<std::string>& via, std::string_view header) {
  FUZZ_CHECK(via.size() <= kMaxViaEntries);
  for (const std::string& e : via) {
    FUZZ_CHECK(!e.empty());
    FUZZ_CHECK(e.find(',') == std::string::npos);
    FUZZ_CHECK(e.front() != ' ' && e.front() != '\t' && e.back() != ' ' && e.back() != '\t');
    FUZZ_CHECK(header.find(e) != std::string_view::npos);
  }
}

void check_verdict(const std::vector<std::string>& via, const std::string& own, int64_t max_hops) {
  const std::string r = check_via(via, own, max_hops);
  if (r.empty()) {
    FUZZ_CHECK(static_cast<int64_t>(via.size()) <= max_hops);
    for (size_t i = 0; i < via.size(); ++i) {
      FUZZ_CHECK(valid_node_id(via[i]));
      FUZZ_CHECK(via[i] != own);
      for (size_t j = 0; j < i; ++j) FUZZ_CHECK(via[i] != via[j]);
    }
    return;
  }
  FUZZ_CHECK(starts_with(r, "loop: node ") || starts_with(r, "too deep: ") || starts_with(r, "bad path: "));
  FUZZ_CHECK(r.size() <= 200);
  for (char c : r) FUZZ_CHECK(c >= ' ' && c < 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const int64_t max_hops = static_cast<int64_t>(in.range(0, 80));
  const uint8_t own_pick = in.u8();
  const std::string header = in.rest();

  const std::vector<std::string> via = parse_via(header);
  check_entries(via, header);
  FUZZ_CHECK(parse_via(format_via(via)) == via);

  // The own id comes from relay.conf (checked with valid_node_id) or the host name.
  std::string own = "edge-1";
  if (!via.empty() && own_pick % 2 == 0 && valid_node_id(via[own_pick / 2 % via.size()])) {
    own = via[own_pick / 2 % via.size()];
  }
  check_verdict(via, own, max_hops);
  return 0;
}
