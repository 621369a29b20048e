// fuzz_capture_config: capture/capture_config.h load_capture_config() on the input as the text
// of a capture.conf (ConfigFile::from_text, libconfig's parser; target URLs go through
// libavformat's protocol lookup). A ConfigError naming the file is the expected outcome for bad
// text; any other exception, a crash or undefined behaviour is a bug. For a config that loads,
// asserted: the values are within their documented ranges (even output sizes, bitrates, queue
// limits), every target URL passes check_target_url(), and redact_url() of it keeps no secret.
#include <cstdint>
#include <string>

#include "capture_config.h"
#include "fuzz_check.h"
#include "fuzz_config_text.h"
#include "url.h"

using namespace mpegcast;
using namespace mpegcast::capture;

namespace {

/// Every secret= or passphrase= parameter of the query reads "***".
void check_redacted(const std::string& shown) {
  const size_t q = shown.find('?');
  if (q == std::string::npos) return;
  size_t pos = q + 1;
  while (pos <= shown.size()) {
    size_t end = shown.find('&', pos);
    if (end == std::string::npos) end = shown.size();
    const std::string param = shown.substr(pos, end - pos);
    for (const char* key : {"secret=", "passphrase="}) {
      const std::string k = key;
      if (param.compare(0, k.size(), k) == 0) FUZZ_CHECK(param == k + "***");
    }
    pos = end + 1;
  }
}

void check(const CaptureConfig& c) {
  FUZZ_CHECK(c.output.width % 2 == 0 && c.output.height % 2 == 0);
  FUZZ_CHECK(c.output.width >= 0 && c.output.width <= 4096 && c.output.height >= 0 && c.output.height <= 4096);
  FUZZ_CHECK(c.output.maxrate_bps == 0 || c.output.maxrate_bps >= c.output.bitrate_bps);
  FUZZ_CHECK(c.output.gop_s >= 0.1 && c.output.gop_s <= 60);
  FUZZ_CHECK(c.input.framerate >= 0 && c.input.framerate <= 1000);
  for (const TargetConfig& t : c.targets) {
    FUZZ_CHECK(check_target_url(t.url).empty());
    FUZZ_CHECK(t.queue_ms >= 100 && t.queue_bytes >= 65536);
    check_redacted(redact_url(t.url));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::load_config_text(data, size, [](ConfigFile& f) { check(load_capture_config(f)); });
  return 0;
}
