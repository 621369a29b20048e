#include "http_request_parser.h"

#include <http_parser.h>
#include <strings.h>

namespace mpegcast::relay {

struct HttpRequestParser::Impl {
  HttpRequestHandler& handler;
  size_t max_head_bytes;
  http_parser parser{};
  HttpRequestHead head;
  std::string field;
  std::string* value_target = nullptr;
  bool in_field = false;
  size_t head_bytes = 0;
  bool head_done = false;  // on_headers_complete ran: header callbacks from now on are trailers
  bool too_big = false;
  bool stopped = false;

  Impl(HttpRequestHandler& h, size_t max) : handler(h), max_head_bytes(max) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
  }
  static Impl* self(http_parser* p) { return static_cast<Impl*>(p->data); }

  bool count(size_t len) {
    head_bytes += len;
    too_big = head_bytes > max_head_bytes;
    return too_big;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x{};
      x.on_url = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
        if (i->count(len)) return 1;
        i->head.url.append(at, len);
        return 0;
      };
      // Trailers after a chunked body come through the same callbacks: they are not part of the
      // head (not counted against max_head_bytes, not stored); http-parser bounds them itself.
      x.on_header_field = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
        if (i->head_done) return 0;
        if (i->count(len)) return 1;
        if (!i->in_field) {
          i->field.clear();
          i->in_field = true;
        }
        i->field.append(at, len);
        return 0;
      };
      x.on_header_value = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
        if (i->head_done) return 0;
        if (i->count(len)) return 1;
        if (i->in_field) {
          i->in_field = false;
          i->value_target = nullptr;
          if (strcasecmp(i->field.c_str(), "authorization") == 0) i->value_target = &i->head.authorization;
          if (strcasecmp(i->field.c_str(), "expect") == 0) i->value_target = &i->head.expect;
          if (strcasecmp(i->field.c_str(), "upgrade") == 0) i->value_target = &i->head.upgrade;
          if (strcasecmp(i->field.c_str(), "x-mpegcast-via") == 0) {
            if (!i->head.via.empty()) i->head.via += ",";  // repeated header: one list
            i->value_target = &i->head.via;
          }
        }
        if (i->value_target) i->value_target->append(at, len);
        return 0;
      };
      x.on_headers_complete = [](http_parser* p) {
        Impl* i = self(p);
        i->head_done = true;
        i->head.method = http_method_str(static_cast<http_method>(p->method));
        i->head.chunked = (p->flags & F_CHUNKED) != 0;
        i->head.http_major = p->http_major;
        i->head.http_minor = p->http_minor;
        if (!i->handler.on_head(i->head)) {
          i->stopped = true;
          return -1;  // http-parser: stop (skipping the body is not what we want)
        }
        return 0;
      };
      x.on_body = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
        if (!i->handler.on_body(reinterpret_cast<const uint8_t*>(at), len)) {
          i->stopped = true;
          return 1;
        }
        return 0;
      };
      x.on_message_complete = [](http_parser* p) {
        Impl* i = self(p);
        i->stopped = true;  // one request per connection on the ingest listener
        i->handler.on_complete();
        return 1;
      };
      return x;
    }();
    return s;
  }
};

HttpRequestParser::HttpRequestParser(HttpRequestHandler& handler, size_t max_head_bytes)
    : impl_(std::make_unique<Impl>(handler, max_head_bytes)) {}
HttpRequestParser::~HttpRequestParser() = default;

HttpRequestParser::Status HttpRequestParser::feed(const uint8_t* data, size_t len) {
  if (impl_->stopped) return Status::stopped;
  http_parser_execute(&impl_->parser, &Impl::settings(), reinterpret_cast<const char*>(data), len);
  if (impl_->too_big) return Status::head_too_big;
  if (impl_->stopped) return Status::stopped;
  if (HTTP_PARSER_ERRNO(&impl_->parser) != HPE_OK) return Status::bad_request;
  return Status::ok;
}

const char* HttpRequestParser::error() const { return http_errno_description(HTTP_PARSER_ERRNO(&impl_->parser)); }
size_t HttpRequestParser::head_bytes() const { return impl_->head_bytes; }

}  // namespace mpegcast::relay
