// Shared by the config fuzz targets: turns an input into libconfig text and loads it the way the
// programs load their files, treating ConfigError as the expected outcome for bad text.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

#include "config_file.h"
#include "fuzz_check.h"

namespace mpegcast::fuzz {

/// Parses `data` as a config file named "fuzz.conf" and passes it to `load` (a loader such as
/// relay::load_relay_config). A ConfigError must read "fuzz.conf:…" or "fuzz.conf: …"; any other
/// exception escapes to libFuzzer and is reported as a crash, as it would end the program.
///
/// Inputs with an `@include` directive are skipped: libconfig would open the named file (the
/// fuzzer would read /dev/zero or /dev/stdin sooner or later), and a config file is the operator's,
/// not a peer's, so including files is a feature, not an attack surface.
template <class Loader>
void load_config_text(const uint8_t* data, size_t size, Loader&& load) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("@include") != std::string::npos) return;
  try {
    ConfigFile file = ConfigFile::from_text(text, "fuzz.conf");
    load(file);
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    FUZZ_CHECK(what.rfind("fuzz.conf:", 0) == 0);
  }
}

}  // namespace mpegcast::fuzz
