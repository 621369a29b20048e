#include "relay_stack.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "free_port.h"
#include "http_get.h"

namespace mpegcast::test {

RelayStack::RelayStack() : viewer_port_(free_port()), ingest_port_(free_port()) {
  while (ingest_port_ == viewer_port_) ingest_port_ = free_port();
}

RelayStack::~RelayStack() {
  capture_.reset();
  relay_.reset();
}

void RelayStack::start_relay(const std::string& log_name, int timeout_ms) {
  relay_.reset();
  relay_ = std::make_unique<Process>(
      log_name, std::vector<std::string>{MPEGCAST_RELAY_BIN, "-c", relay_config_, "--listen",
                                         "127.0.0.1:" + std::to_string(viewer_port_), "--ingest-listen",
                                         "127.0.0.1:" + std::to_string(ingest_port_), "--web-root", MPEGCAST_WEB_ROOT});
  BOOST_TEST_REQUIRE(relay_->wait_for_log("ready", timeout_ms),
                     "relay printed no 'ready' line within " << timeout_ms << " ms (running=" << relay_->running()
                                                             << ", exit=" << relay_->exit_status()
                                                             << "); log: " << relay_->log_path());
}

void RelayStack::start_capture(const std::string& stream, const std::string& input) {
  capture_.reset();
  capture_ = std::make_unique<Process>(
      "capture", std::vector<std::string>{MPEGCAST_CAPTURE_BIN, "-c", MPEGCAST_SOURCE_DIR "/conf/capture.conf",
                                          "--input", input, "--target",
                                          "http://127.0.0.1:" + std::to_string(ingest_port_) + "/publish/" + stream});
}

nlohmann::json RelayStack::api_streams(std::string* error) const {
  auto r = http_get(viewer_port_, "/api/v1/streams", 2000);
  if (r.status != 200) {
    if (error) *error = "GET /api/v1/streams: status " + std::to_string(r.status) + " " + r.error;
    return nlohmann::json::object();
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    if (error) *error = "GET /api/v1/streams: not JSON: " + r.body.substr(0, 200);
    return nlohmann::json::object();
  }
  return j;
}

nlohmann::json RelayStack::find_stream(const nlohmann::json& j, const std::string& name) {
  if (!j.is_object() || !j.contains("streams") || !j["streams"].is_array()) return nullptr;
  for (auto& s : j["streams"])
    if (s.is_object() && s.value("name", "") == name) return s;
  return nullptr;
}

bool RelayStack::wait_live(const std::string& stream, int timeout_ms) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::milliseconds(timeout_ms);
  int api_failures = 0;
  std::string err;
  while (std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST_REQUIRE((!capture_ || capture_->running()),
                       "capture exited with status " << (capture_ ? capture_->exit_status() : 0) << " before "
                                                     << stream << " was live; log: "
                                                     << (capture_ ? capture_->log_path() : std::string()));
    BOOST_TEST_REQUIRE(relay_->running(), "relay exited with status " << relay_->exit_status() << " before " << stream
                                                                      << " was live; log: " << relay_->log_path());
    auto j = api_streams(&err);
    if (j.empty()) {
      if (++api_failures >= 3) {
        BOOST_TEST_MESSAGE("API unusable (" << err << "); waiting 3 s for the stream instead");
        std::this_thread::sleep_for(std::chrono::seconds(3));
        return false;
      }
    } else {
      auto s = find_stream(j, stream);
      if (s.is_object() && s.contains("bytes_in") && s["bytes_in"].is_number() && s["bytes_in"].get<double>() > 0) {
        BOOST_TEST_MESSAGE(stream << " live after "
                                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - start).count()
                                  << " ms");
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST_MESSAGE(stream << " not live according to the API after " << timeout_ms << " ms");
  return false;
}

}  // namespace mpegcast::test
