#include "ff_ptr.h"

extern "C" {
#include <libavutil/error.h>
}

namespace mpegcast::capture {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

}  // namespace mpegcast::capture
