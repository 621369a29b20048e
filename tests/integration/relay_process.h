// One mpegcast-relay on free loopback ports started from config text, and the helpers tests use
// around it (a capture agent publishing a test pattern, an API document, an ffmpeg-made TS file).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "process.h"

namespace mpegcast::test {

/// mpegcast-relay with `config_text` as its whole config file (every key has a default), viewer
/// and ingest listeners on free 127.0.0.1 ports. REQUIREs its "ready" line within 10 s.
class RelayProcess {
 public:
  /// `viewer_port` / `ingest_port` 0: a free port (give one when another relay's config must
  /// name this relay before it starts). `netns`: run inside that network namespace (`ip netns
  /// exec`, see netns.h) listening on all its addresses (0.0.0.0), so relays in other namespaces
  /// reach it over veth links; api() and friends then ask it from inside the namespace.
  RelayProcess(const std::string& config_text, const std::string& tag, uint16_t viewer_port = 0,
               uint16_t ingest_port = 0, const std::string& netns = "");
  uint16_t viewer_port() const { return viewer_port_; }
  uint16_t ingest_port() const { return ingest_port_; }
  Process& proc() { return *proc_; }
  /// GET `path` on the viewer port as JSON (empty object on any failure).
  nlohmann::json api(const std::string& path) const;
  /// The `streams` entry of /api/v1/streams for `name` (null when absent).
  nlohmann::json stream(const std::string& name) const;
  /// Waits until `name` has bytes_in > 0 (REQUIRE within `timeout_ms`).
  void wait_live(const std::string& name, int timeout_ms = 10000);
  /// VmRSS of the relay in KiB (-1 if unreadable).
  long rss_kib() const;

 private:
  uint16_t viewer_port_, ingest_port_;
  std::string netns_;
  std::unique_ptr<Process> proc_;
};

/// mpegcast-capture publishing a 640x480 25 fps test pattern to `target_url` (from inside network
/// namespace `netns` when not empty).
std::unique_ptr<Process> start_capture(const std::string& target_url, const std::string& name = "capture",
                                       const std::string& netns = "");

/// A TS file of `seconds` of MPEG-1 test pattern made once per test program by the ffmpeg CLI
/// (test-logs/<file_name>); REQUIREs ffmpeg to succeed. Returns its path.
std::string make_ts_file(const std::string& file_name, int seconds);

/// Lines of `text` that match ECMAScript regex `pattern`.
int count_lines(const std::string& text, const std::string& pattern);

}  // namespace mpegcast::test
