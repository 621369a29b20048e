#include "http_response_parser.h"

#include <http_parser.h>
#include <strings.h>

namespace mpegcast::relay {

struct HttpResponseParser::Impl {
  HttpResponseHandler& handler;
  size_t max_head_bytes;
  http_parser parser{};
  HttpResponseHead head;
  std::string field;
  std::string* value_target = nullptr;
  bool in_field = false;
  size_t head_bytes = 0;
  bool too_big = false;
  bool bad_status = false;
  bool stopped = false;

  Impl(HttpResponseHandler& h, size_t max) : handler(h), max_head_bytes(max) { reset(); }
  void reset() {
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
    head = HttpResponseHead{};
    field.clear();
    value_target = nullptr;
    in_field = false;
    head_bytes = 0;
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
      x.on_status = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
        if (i->count(len)) return 1;
        i->head.reason.append(at, len);
        return 0;
      };
      x.on_header_field = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
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
        if (i->count(len)) return 1;
        if (i->in_field) {
          i->in_field = false;
          i->value_target = nullptr;
          if (strcasecmp(i->field.c_str(), "content-type") == 0) i->value_target = &i->head.content_type;
          if (strcasecmp(i->field.c_str(), "x-mpegcast-via") == 0) {
            if (!i->head.via.empty()) i->head.via += ",";
            i->value_target = &i->head.via;
          }
        }
        if (i->value_target) i->value_target->append(at, len);
        return 0;
      };
      x.on_headers_complete = [](http_parser* p) {
        Impl* i = self(p);
        i->head.status = static_cast<int>(p->status_code);
        // http-parser takes any three digits; a status below 100 is no HTTP status (RFC 9110 §15).
        if (i->head.status < 100) {
          i->bad_status = true;
          return -1;
        }
        // An interim response has no body (RFC 9110 §15.2): 1 tells http-parser so; it is skipped at its end.
        if (i->head.status >= 100 && i->head.status < 200) return 1;
        if (!i->handler.on_head(i->head)) {
          i->stopped = true;
          return -1;
        }
        return 0;
      };
      x.on_body = [](http_parser* p, const char* at, size_t len) {
        Impl* i = self(p);
        if (p->status_code < 200) return 0;  // never the body of an interim response
        if (!i->handler.on_body(reinterpret_cast<const uint8_t*>(at), len)) {
          i->stopped = true;
          return 1;
        }
        return 0;
      };
      x.on_message_complete = [](http_parser* p) {
        Impl* i = self(p);
        if (p->status_code >= 100 && p->status_code < 200) {
          i->head = HttpResponseHead{};  // the real response follows
          i->head_bytes = 0;
          return 0;
        }
        i->stopped = true;
        i->handler.on_complete();
        return 1;
      };
      return x;
    }();
    return s;
  }
};

HttpResponseParser::HttpResponseParser(HttpResponseHandler& handler, size_t max_head_bytes)
    : impl_(std::make_unique<Impl>(handler, max_head_bytes)) {}
HttpResponseParser::~HttpResponseParser() = default;

HttpResponseParser::Status HttpResponseParser::feed(const uint8_t* data, size_t len) {
  if (impl_->stopped) return Status::stopped;
  http_parser_execute(&impl_->parser, &Impl::settings(), reinterpret_cast<const char*>(data), len);
  if (impl_->too_big || impl_->bad_status) return Status::bad_response;
  if (impl_->stopped) return Status::stopped;
  if (HTTP_PARSER_ERRNO(&impl_->parser) != HPE_OK) return Status::bad_response;
  return Status::ok;
}

void HttpResponseParser::finish() {
  if (impl_->stopped) return;
  http_parser_execute(&impl_->parser, &Impl::settings(), nullptr, 0);  // EOF
}

const char* HttpResponseParser::error() const {
  if (impl_->too_big) return "response head too large";
  if (impl_->bad_status) return "status code below 100";
  return http_errno_description(HTTP_PARSER_ERRNO(&impl_->parser));
}

}  // namespace mpegcast::relay
