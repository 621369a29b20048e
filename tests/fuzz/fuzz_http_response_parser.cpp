// fuzz_http_response_parser: relay/http_response_parser.h, how a pull link reads an upstream's
// answer (a stranger's server when an upstream URL is wrong or hijacked): the input is fed in
// fragments whose sizes come from the input's end, then the connection "closes" (finish()).
// Asserted: the head is reported at most once and before any body byte; nothing is reported after
// a handler stopped the parse or after the message completed; once a feed reports an end (stopped
// or a bad response) no later feed reports ok; a reported status is 100..999.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "http_response_parser.h"

using namespace mpegcast;
using namespace mpegcast::relay;

namespace {

struct Recorder final : HttpResponseHandler {
  int heads = 0;
  size_t body = 0;
  bool complete = false, stop_on_body = false;
  bool on_head(const HttpResponseHead& h) override {
    FUZZ_CHECK(heads == 0 && body == 0 && !complete);
    FUZZ_CHECK(h.status >= 100 && h.status <= 999);
    ++heads;
    return h.status == 200;
  }
  bool on_body(const uint8_t* /*data*/, size_t len) override {
    FUZZ_CHECK(heads == 1 && !complete);
    body += len;
    return !stop_on_body;
  }
  void on_complete() override {
    FUZZ_CHECK(!complete);
    complete = true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  Recorder r;
  r.stop_on_body = in.flag();
  HttpResponseParser p(r, 1024 + in.range(0, 16384));
  bool stopped = false;
  for (int i = 0; i < 256; ++i) {
    const uint8_t* piece = nullptr;
    const size_t n = in.bytes(1 + in.range(0, 2048), piece);
    if (n == 0) break;
    const HttpResponseParser::Status st = p.feed(piece, n);
    if (stopped) FUZZ_CHECK(st != HttpResponseParser::Status::ok);  // an end (stop or error) is final
    if (st != HttpResponseParser::Status::ok) stopped = true;
  }
  p.finish();
  return 0;
}
