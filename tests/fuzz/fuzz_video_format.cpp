// fuzz_video_format: shared/video_format.h, the codec/size/frame-rate reader that runs on every
// keyframe a publisher (any peer with ingest access, or an upstream relay) sends. The input is TS
// (a seed is a recording) read as a keyframe chunk for the video PID and stream_type picked by the
// input's end, and also as raw elementary-stream bytes. Asserted: no crash or UB on any bytes; a
// format it returns is sane (known codec name, 1..65535 pixels each way, fps 0 or in (0, 1e6)).
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "video_format.h"

using namespace mpegcast;

namespace {

void check(const std::optional<VideoFormat>& f) {
  if (!f) return;
  FUZZ_CHECK(f->codec == "mpeg1video" || f->codec == "mpeg2video" || f->codec == "h264");
  FUZZ_CHECK(f->width > 0 && f->width <= 65535);
  FUZZ_CHECK(f->height > 0 && f->height <= 65535);
  FUZZ_CHECK(f->fps == 0 || (f->fps > 0 && f->fps < 1e6));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  static const uint8_t kTypes[] = {0x01, 0x02, 0x1B, 0x24, 0x00};
  const uint8_t type = kTypes[in.range(0, sizeof kTypes - 1)];
  const uint16_t pid = in.flag() ? 0x100 : static_cast<uint16_t>(in.u16() & 0x1FFF);
  const uint8_t* payload = nullptr;
  const size_t n = in.bytes(size, payload);
  check(video_format_of_ts(payload, n - n % 188, pid, type));
  check(parse_video_format(type, payload, n));
  return 0;
}
