// A relay plus a capture agent on free loopback ports: the fixture the end-to-end tests use.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "process.h"

namespace mpegcast::test {

/// Starts and restarts mpegcast-relay / mpegcast-capture for one test. Ports are chosen once, so
/// a restarted relay comes back on the same ones. Destruction stops capture, then relay.
class RelayStack {
 public:
  RelayStack();
  ~RelayStack();

  /// Config file for the relay's next start (default: the shipped conf/relay.conf).
  void set_relay_config(std::string path) { relay_config_ = std::move(path); }
  /// Starts the relay (name it differently on restart so each run has its own log) and
  /// BOOST_TEST_REQUIREs its "ready" line within `timeout_ms`.
  void start_relay(const std::string& log_name = "relay", int timeout_ms = 10000);
  /// Starts the capture agent on `input` (default: lavfi testsrc2 640x480 at 25 fps) publishing `stream`.
  void start_capture(const std::string& stream = "cam1",
                     const std::string& input = "lavfi:testsrc2=size=640x480:rate=25");

  /// Polls GET /api/v1/streams until `stream` shows bytes_in > 0. Falls back to a fixed wait
  /// when the API does not answer with JSON, so viewer tests do not depend on the API.
  /// Returns true when the API confirmed the stream. Fails the test (REQUIRE) if a child exited.
  bool wait_live(const std::string& stream = "cam1", int timeout_ms = 10000);

  /// GET /api/v1/streams parsed; `streams` entry for `name` or null. Empty object on failure.
  nlohmann::json api_streams(std::string* error = nullptr) const;
  static nlohmann::json find_stream(const nlohmann::json& streams, const std::string& name);

  uint16_t viewer_port() const { return viewer_port_; }
  uint16_t ingest_port() const { return ingest_port_; }
  Process* relay() { return relay_.get(); }
  Process* capture() { return capture_.get(); }

 private:
  uint16_t viewer_port_, ingest_port_;
  std::string relay_config_ = MPEGCAST_SOURCE_DIR "/conf/relay.conf";
  std::unique_ptr<Process> relay_, capture_;
};

}  // namespace mpegcast::test
