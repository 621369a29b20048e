// fuzz_http_request_parser: relay/http_request_parser.h, the raw ingest listener's HTTP/1.x
// request parser (libhttp-parser underneath, chunked bodies de-chunked by it). The input's front
// is the request bytes; its end picks max_head_bytes and the fragment sizes. The request is parsed
// twice, once in a single feed() and once in fragments (as TCP may deliver it), with a handler
// that accepts everything and records what it is told. Asserted: on_head at most once, body bytes
// and on_complete only after on_head, nothing after on_complete or after feed() reported
// head_too_big/bad_request/stopped (and feed() keeps saying so); a head is never delivered when
// the request line and headers exceed max_head_bytes; head_bytes() never shrinks; and the
// fragmented parse yields the same head, the same body bytes, the same completion and the same
// final status (a refusal's kind aside) as the single one: fragmentation must not change what a
// request means.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "http_request_parser.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

/// What one parse produced.
struct Outcome {
  bool head_seen = false;
  HttpRequestHead head;
  size_t head_bytes_at_head = 0;
  std::string body;
  bool complete = false;
  HttpRequestParser::Status status = HttpRequestParser::Status::ok;
};

class Recorder : public HttpRequestHandler {
 public:
  Recorder(Outcome& out, const HttpRequestParser*& parser) : out_(out), parser_(parser) {}
  bool on_head(const HttpRequestHead& head) override {
    FUZZ_CHECK(!out_.head_seen);
    FUZZ_CHECK(!out_.complete);
    FUZZ_CHECK(!head.method.empty());
    out_.head_seen = true;
    out_.head = head;
    out_.head_bytes_at_head = parser_->head_bytes();
    return true;
  }
  bool on_body(const uint8_t* data, size_t len) override {
    FUZZ_CHECK(out_.head_seen);  // no body byte before the head
    FUZZ_CHECK(!out_.complete);
    out_.body.append(reinterpret_cast<const char*>(data), len);
    return true;
  }
  bool on_complete() override {
    FUZZ_CHECK(out_.head_seen);
    FUZZ_CHECK(!out_.complete);
    out_.complete = true;
    return true;
  }

 private:
  Outcome& out_;
  const HttpRequestParser*& parser_;
};

bool same_head(const HttpRequestHead& a, const HttpRequestHead& b) {
  return a.method == b.method && a.url == b.url && a.authorization == b.authorization && a.expect == b.expect &&
         a.upgrade == b.upgrade && a.via == b.via && a.chunked == b.chunked;
}

bool refused(HttpRequestParser::Status s) {
  return s == HttpRequestParser::Status::head_too_big || s == HttpRequestParser::Status::bad_request;
}

/// Parses `request` in pieces of the given sizes (the last piece takes the rest).
Outcome parse(const std::string& request, size_t max_head_bytes, const std::vector<size_t>& pieces) {
  Outcome out;
  const HttpRequestParser* parser_ref = nullptr;
  Recorder recorder(out, parser_ref);
  HttpRequestParser parser(recorder, max_head_bytes);
  parser_ref = &parser;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(request.data());
  size_t left = request.size(), i = 0, head_bytes = 0;
  bool ended = false;  // feed() reported the end of this request
  while (left > 0) {
    const size_t n = i < pieces.size() && pieces[i] < left ? pieces[i] : left;
    ++i;
    const Outcome before = out;
    const HttpRequestParser::Status s = parser.feed(p, n);
    FUZZ_CHECK(parser.head_bytes() >= head_bytes);
    head_bytes = parser.head_bytes();
    if (ended) {  // nothing more happens once the parser said it is done
      FUZZ_CHECK(s == out.status || s == HttpRequestParser::Status::stopped);
      FUZZ_CHECK(out.body == before.body && out.complete == before.complete && out.head_seen == before.head_seen);
    }
    if (s != HttpRequestParser::Status::ok) {
      if (!ended) out.status = s;
      ended = true;
    }
    if (s == HttpRequestParser::Status::head_too_big) FUZZ_CHECK(!out.head_seen);
    p += n;
    left -= n;
  }
  if (out.head_seen) FUZZ_CHECK(out.head_bytes_at_head <= max_head_bytes);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const size_t max_head_bytes = in.range(16, 8192);
  std::vector<size_t> pieces(in.range(1, 16));
  for (size_t& n : pieces) n = in.range(1, 512);
  const std::string request = in.rest();

  const Outcome whole = parse(request, max_head_bytes, {});
  const Outcome split = parse(request, max_head_bytes, pieces);
  FUZZ_CHECK(whole.head_seen == split.head_seen);
  if (whole.head_seen) FUZZ_CHECK(same_head(whole.head, split.head));
  FUZZ_CHECK(whole.body == split.body);
  FUZZ_CHECK(whole.complete == split.complete);
  // head_too_big and bad_request may swap: a head's bytes are counted as http-parser hands them
  // over, which for a value cut by a fragment boundary can happen before a syntax error after it.
  FUZZ_CHECK(refused(whole.status) == refused(split.status));
  if (!refused(whole.status)) FUZZ_CHECK(whole.status == split.status);
  return 0;
}
