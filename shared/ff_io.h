// RAII for the libavformat I/O that the output link (and the capture agent) use: option
// dictionaries, contexts opened with avio_open2, and the text of an AVERROR code.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

extern "C" {
#include <libavformat/avio.h>
#include <libavutil/dict.h>
}

namespace mpegcast {

/// An AVIOContext opened with avio_open2 (closed with avio_closep, which flushes).
struct OpenIoDeleter {
  void operator()(AVIOContext* io) const { avio_closep(&io); }
};
using OpenIoPtr = std::unique_ptr<AVIOContext, OpenIoDeleter>;

/// An AVDictionary of options, freed on scope exit.
class Dict {
 public:
  Dict() = default;
  ~Dict() { av_dict_free(&d_); }
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  void set(const char* key, const char* value) { av_dict_set(&d_, key, value, 0); }
  void set(const char* key, int64_t value) { av_dict_set_int(&d_, key, value, 0); }
  void set(const char* key, int value) { av_dict_set_int(&d_, key, value, 0); }
  /// For APIs that consume recognised entries and leave the rest.
  AVDictionary** ptr() { return &d_; }
  AVDictionary* get() const { return d_; }

 private:
  AVDictionary* d_ = nullptr;
};

/// av_err2str for C++: the text of an AVERROR code.
std::string av_error_text(int err);

}  // namespace mpegcast
