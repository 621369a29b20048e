// The raw ingest's HTTP request parser: de-chunked bodies, the head size cap, trailers.
#define BOOST_TEST_MODULE http_request_parser
#include <boost/test/unit_test.hpp>

#include <string>

#include "http_request_parser.h"

using namespace mpegcast::relay;

namespace {

struct Recorder : HttpRequestHandler {
  int heads = 0, completes = 0;
  HttpRequestHead head;
  std::string body;
  bool on_head(const HttpRequestHead& h) override {
    ++heads;
    head = h;
    return true;
  }
  bool on_body(const uint8_t* data, size_t len) override {
    body.append(reinterpret_cast<const char*>(data), len);
    return true;
  }
  bool on_complete() override {
    ++completes;
    return true;
  }
};

HttpRequestParser::Status feed(HttpRequestParser& p, const std::string& s) {
  return p.feed(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(chunked_body_is_dechunked) {
  Recorder r;
  HttpRequestParser p(r, 1024);
  const std::string head = "POST /publish/cam1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Mpegcast-Via: a\r\n\r\n";
  BOOST_TEST((feed(p, head + "3\r\nabc\r\n") == HttpRequestParser::Status::ok));
  BOOST_TEST(r.heads == 1);
  BOOST_TEST(r.head.chunked);
  BOOST_TEST(r.head.via == "a");
  BOOST_TEST((feed(p, "2\r\nde\r\n0\r\n\r\n") == HttpRequestParser::Status::stopped));
  BOOST_TEST(r.body == "abcde");
  BOOST_TEST(r.completes == 1);
}

BOOST_AUTO_TEST_CASE(head_over_max_head_bytes_is_refused) {
  Recorder r;
  HttpRequestParser p(r, 64);
  BOOST_TEST((feed(p, "POST /publish/cam1 HTTP/1.1\r\nAuthorization: Bearer " + std::string(100, 'x') + "\r\n\r\n") ==
              HttpRequestParser::Status::head_too_big));
  BOOST_TEST(r.heads == 0);
}

BOOST_AUTO_TEST_CASE(trailers_are_not_part_of_the_head) {
  // Found by fuzz_http_request_parser: trailer fields after the last chunk were counted against
  // max_head_bytes (head_too_big after the body, a 431 to a publisher that sent a good head) and
  // appended to the head's fields.
  Recorder r;
  HttpRequestParser p(r, 64);
  const std::string request = "POST /publish/cam1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                              "X-Mpegcast-Via: " + std::string(100, 'v') + "\r\n\r\n";
  BOOST_TEST((feed(p, request) == HttpRequestParser::Status::stopped));
  BOOST_TEST(r.completes == 1);
  BOOST_TEST(r.body == "abc");
  BOOST_TEST(r.head.via == "");
  // Still bounded: http-parser refuses 80 KiB of trailers.
  Recorder r2;
  HttpRequestParser p2(r2, 64);
  std::string big = "POST /publish/cam1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 3000; ++i) big += "X-T: " + std::string(40, 'y') + "\r\n";
  BOOST_TEST((feed(p2, big + "\r\n") == HttpRequestParser::Status::bad_request));
  BOOST_TEST(r2.completes == 0);
}
