// Loop and depth protection for relay cascades. A relay that pushes a stream to another relay
// sends `X-Mpegcast-Via: <node>, <node>, …`: the node ids the stream passed before it, plus its
// own. The receiving relay refuses the push (508 Loop Detected) when its own node id is already
// in the list (a loop) or when the list is longer than its `cascade_max_hops` (a too-deep tree).
// Pure C++, no libwebsockets types.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mpegcast::relay {

/// The request header that carries the path (HTTP and WebSocket pushes).
constexpr const char* kViaHeader = "X-Mpegcast-Via";
/// Default of relay.conf `cascade_max_hops`.
constexpr int64_t kDefaultCascadeMaxHops = 8;
/// Entries parse_via() keeps at most; a longer header is cut (check_via() then reports it too deep
/// for any sane cascade_max_hops).
constexpr size_t kMaxViaEntries = 256;

/// True when `id` can stand in a via list: 1..64 bytes of printable ASCII without ',' or spaces.
bool valid_node_id(std::string_view id);

/// Splits an `X-Mpegcast-Via` value at commas and trims spaces and tabs around each entry; empty
/// entries are dropped, at most kMaxViaEntries are kept. "" (header absent) gives an empty list.
/// Never throws except std::bad_alloc.
std::vector<std::string> parse_via(std::string_view header);

/// Judges the path `via` a stream took to reach this relay (the nodes it passed, upstream first,
/// not including this one). Returns "" when it may be accepted, else a log phrase:
///   "bad path: entry N is not a node id"      (an entry fails valid_node_id(); it is not quoted),
///   "loop: node X already in the path"        (own_node_id is in the list),
///   "loop: node X appears twice in the path"  (an upstream loop),
///   "too deep: N hops > M"                    (more than max_hops entries).
std::string check_via(const std::vector<std::string>& via, const std::string& own_node_id, int64_t max_hops);

/// The header value for `via`: entries joined with ", " ("" for an empty list).
std::string format_via(const std::vector<std::string>& via);

}  // namespace mpegcast::relay
