#include "relay_process.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "free_port.h"
#include "http_get.h"
#include "netns.h"

namespace mpegcast::test {

namespace {

/// `argv` as started inside network namespace `netns` ("" = here).
std::vector<std::string> in_netns(const std::string& netns, std::vector<std::string> argv) {
  if (!netns.empty()) argv.insert(argv.begin(), {"ip", "netns", "exec", netns});
  return argv;
}

}  // namespace

RelayProcess::RelayProcess(const std::string& config_text, const std::string& tag, uint16_t viewer_port,
                           uint16_t ingest_port, const std::string& netns)
    : viewer_port_(viewer_port ? viewer_port : free_port()), ingest_port_(ingest_port ? ingest_port : free_port()),
      netns_(netns) {
  while (ingest_port_ == viewer_port_) ingest_port_ = free_port();
  const std::string conf = test_log_dir() + "/" + tag + ".conf";
  std::ofstream(conf) << config_text;
  const std::string host = netns.empty() ? "127.0.0.1:" : "0.0.0.0:";
  proc_ = std::make_unique<Process>(
      tag, in_netns(netns, {MPEGCAST_RELAY_BIN, "-c", conf, "--listen", host + std::to_string(viewer_port_),
                            "--ingest-listen", host + std::to_string(ingest_port_), "--web-root", MPEGCAST_WEB_ROOT}));
  BOOST_TEST_REQUIRE(proc_->wait_for_log("ready", 10000), "relay not ready; log: " << proc_->log_path());
}

nlohmann::json RelayProcess::api(const std::string& path) const {
  NetnsScope inside(netns_);
  HttpResponse r = http_get(viewer_port_, path, 3000);
  if (r.status != 200) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

nlohmann::json RelayProcess::stream(const std::string& name) const {
  const nlohmann::json all = api("/api/v1/streams");
  if (all.contains("streams") && all["streams"].is_array()) {
    for (const auto& s : all["streams"]) {
      if (s.value("name", "") == name) return s;
    }
  }
  return nullptr;
}

void RelayProcess::wait_live(const std::string& name, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST_REQUIRE(proc_->running(), "relay exited; log: " << proc_->log_path());
    const nlohmann::json s = stream(name);
    if (s.is_object() && s.value("bytes_in", 0.0) > 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST_REQUIRE(false, "stream " << name << " not live within " << timeout_ms << " ms");
}

long RelayProcess::rss_kib() const {
  std::ifstream f("/proc/" + std::to_string(proc_->pid()) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::unique_ptr<Process> start_capture(const std::string& target_url, const std::string& name,
                                       const std::string& netns) {
  return std::make_unique<Process>(
      name, in_netns(netns, {MPEGCAST_CAPTURE_BIN, "-c", MPEGCAST_SOURCE_DIR "/conf/capture.conf", "--input",
                             "lavfi:testsrc2=size=640x480:rate=25", "--target", target_url}));
}

std::string make_ts_file(const std::string& file_name, int seconds) {
  const std::string path = test_log_dir() + "/" + file_name;
  std::ifstream existing(path);
  if (existing.good() && existing.peek() != std::ifstream::traits_type::eof()) return path;
  Process ff("ffmpeg-" + file_name,
             {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-y", "-f", "lavfi", "-i",
              "testsrc2=size=320x240:rate=25", "-t", std::to_string(seconds), "-c:v", "mpeg1video", "-bf", "0",
              "-g", "25", "-f", "mpegts", path});
  for (int i = 0; i < 300 && ff.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST_REQUIRE(ff.exit_status() == 0, "ffmpeg failed: see " << ff.log_path());
  return path;
}

int count_lines(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += std::regex_search(line, re);
  return n;
}

}  // namespace mpegcast::test
