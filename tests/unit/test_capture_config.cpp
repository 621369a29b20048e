// capture config: every error names FILE:LINE: key; the binary exits 2 on it and 0 with "ok".
#define BOOST_TEST_MODULE capture_config
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "capture_config.h"
#include "config_file.h"
#include "devices.h"
#include "url.h"

using namespace mpegcast;
using namespace mpegcast::capture;

namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/test_capture_config_XXXXXX";
    const int fd = mkstemp(name);
    BOOST_REQUIRE(fd >= 0);
    close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::string load_error(const std::string& text, std::string* path_out = nullptr) {
  TempFile f(text);
  if (path_out) *path_out = f.path;
  try {
    ConfigFile file(f.path);
    load_capture_config(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

struct Run {
  int status = -1;
  std::string out, err;
};

Run run_binary(const std::string& args) {
  TempFile out(""), err("");
  const std::string cmd = std::string(MPEGCAST_CAPTURE_BIN) + " " + args + " >" + out.path + " 2>" + err.path;
  const int rc = std::system(cmd.c_str());
  Run r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::stringstream o, e;
  o << std::ifstream(out.path).rdbuf();
  e << std::ifstream(err.path).rdbuf();
  r.out = o.str();
  r.err = e.str();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_without_a_file) {
  ConfigFile empty;
  const CaptureConfig c = load_capture_config(empty);
  BOOST_TEST(c.input.source == "auto");
  BOOST_TEST(c.input.graph == "testsrc2=size=640x480:rate=25");
  BOOST_TEST(c.output.bitrate_bps == 1000000);
  BOOST_TEST(c.output.maxrate_bps == 1500000);
  BOOST_TEST(c.output.bufsize_bytes == 350000);
  BOOST_TEST(c.output.gop_s == 1.0);
  BOOST_TEST(c.status_interval_s == 10);
  BOOST_TEST(c.targets.empty());  // main() adds kDefaultTarget
}

BOOST_AUTO_TEST_CASE(shipped_config_is_valid_and_has_the_documented_values) {
  ConfigFile file(std::string(MPEGCAST_SOURCE_DIR) + "/conf/capture.conf");
  const CaptureConfig c = load_capture_config(file);
  BOOST_TEST(c.input.source == "auto");
  BOOST_REQUIRE(c.targets.size() == 1u);
  BOOST_TEST(c.targets[0].url == "http://127.0.0.1:8081/publish/cam1");
  BOOST_TEST(c.targets[0].queue_ms == 2000);
}

BOOST_AUTO_TEST_CASE(unknown_key_names_file_line_and_key) {
  std::string path;
  const std::string e = load_error("log_level = \"info\";\n\noutput = {\n  bitrate_bps = 800000;\n  bitrat_bps = 1;\n};\n", &path);
  BOOST_TEST(e == path + ":5: output.bitrat_bps: unknown key");
}

BOOST_AUTO_TEST_CASE(unknown_top_level_key) {
  std::string path;
  const std::string e = load_error("status_interval_s = 5;\ncamera = \"x\";\n", &path);
  BOOST_TEST(e == path + ":2: camera: unknown key");
}

BOOST_AUTO_TEST_CASE(wrong_type_names_file_line_and_key) {
  std::string path;
  const std::string e = load_error("input = {\n  source = \"lavfi\";\n  loop = \"yes\";\n};\n", &path);
  BOOST_TEST(starts_with(e, path + ":3: input.loop: expected true or false"), e);
  const std::string e2 = load_error("output = { width = \"640\"; };\n", &path);
  BOOST_TEST(starts_with(e2, path + ":1: output.width: expected an integer"), e2);
}

BOOST_AUTO_TEST_CASE(out_of_range_names_file_line_and_key) {
  std::string path;
  std::string e = load_error("\n\nstatus_interval_s = 99999;\n", &path);
  BOOST_TEST(starts_with(e, path + ":3: status_interval_s: value 99999 is out of range"), e);
  e = load_error("output = {\n  gop_s = 0.0;\n};\n", &path);
  BOOST_TEST(starts_with(e, path + ":2: output.gop_s: value 0 is out of range"), e);
  e = load_error("output = { width = 641; };\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: output.width: must be even"), e);
  e = load_error("target_defaults = {\n queue_ms = 5;\n};\n", &path);
  BOOST_TEST(starts_with(e, path + ":2: target_defaults.queue_ms: value 5 is out of range"), e);
  e = load_error("input = { source = \"webcam\"; };\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: input.source: \"webcam\" is not one of"), e);
}

BOOST_AUTO_TEST_CASE(bad_targets_are_refused) {
  std::string path;
  std::string e = load_error("targets = ( \"nonsense\" );\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: targets: "), e);
  e = load_error("targets = ( \"nosuchproto://127.0.0.1:70/x\" );\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: targets: libavformat has no protocol"), e);
  e = load_error("targets = (\n  { url = \"tcp://127.0.0.1:9\"; queue_ms = 500; },\n  { url = \"http://127.0.0.1:1/x\"; speed = 1; }\n);\n", &path);
  BOOST_TEST(e.find(":3: ") != std::string::npos, e);
  BOOST_TEST(e.find("speed: unknown key") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(target_groups_with_overrides) {
  TempFile f(
      "target_defaults = { queue_ms = 3000; };\n"
      "targets = ( { url = \"tcp://127.0.0.1:9000\"; queue_ms = 500; }, { url = \"udp://127.0.0.1:9001\"; } );\n");
  ConfigFile file(f.path);
  const CaptureConfig c = load_capture_config(file);
  BOOST_REQUIRE(c.targets.size() == 2u);
  BOOST_TEST(c.targets[0].queue_ms == 500);
  BOOST_TEST(c.targets[1].queue_ms == 3000);
}

BOOST_AUTO_TEST_CASE(input_spec) {
  InputConfig in;
  apply_input_spec(in, "lavfi:testsrc2=size=320x240:rate=25");
  BOOST_TEST(in.source == "lavfi");
  BOOST_TEST(in.graph == "testsrc2=size=320x240:rate=25");
  apply_input_spec(in, "v4l2:/dev/video2");
  BOOST_TEST(in.source == "v4l2");
  BOOST_TEST(in.device == "/dev/video2");
  apply_input_spec(in, "file:/tmp/a.mp4");
  BOOST_TEST(in.path == "/tmp/a.mp4");
  BOOST_CHECK_THROW(apply_input_spec(in, "camera"), ConfigError);
  BOOST_CHECK_THROW(apply_input_spec(in, "lavfi:"), ConfigError);
}

BOOST_AUTO_TEST_CASE(auto_input_without_camera_is_the_test_pattern) {
  InputConfig in;
  in.device = "/nonexistent/video0";
  resolve_auto_input(in);
  BOOST_TEST(in.source == "lavfi");
  BOOST_TEST(in.graph == std::string(kDefaultGraph));
}

BOOST_AUTO_TEST_CASE(secrets_are_redacted) {
  BOOST_TEST(redact_url("http://127.0.0.1:8081/publish/cam1?secret=abc") == "http://127.0.0.1:8081/publish/cam1?secret=***");
  BOOST_TEST(redact_url("http://h:1/p?a=1&secret=xyz&b=2") == "http://h:1/p?a=1&secret=***&b=2");
  BOOST_TEST(redact_url("http://user:pw@h:1/p") == "http://***@h:1/p");
  BOOST_TEST(redact_url("tcp://127.0.0.1:9000") == "tcp://127.0.0.1:9000");
}

BOOST_AUTO_TEST_CASE(binary_check_config_exit_codes) {
  Run ok = run_binary(std::string("-c ") + MPEGCAST_SOURCE_DIR + "/conf/capture.conf --check-config");
  BOOST_TEST(ok.status == 0);
  BOOST_TEST(ok.out == "ok\n");

  TempFile bad("log_level = \"info\";\noutput = {\n  bitrate_bps = \"fast\";\n};\n");
  Run r = run_binary("-c " + bad.path + " --check-config");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(starts_with(r.err, bad.path + ":3: output.bitrate_bps: expected an integer"), r.err);
  BOOST_TEST(r.out.find("ok") == std::string::npos);

  TempFile unknown("colour = true;\n");
  r = run_binary("-c " + unknown.path + " --check-config");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(starts_with(r.err, unknown.path + ":1: colour: unknown key"), r.err);

  // Not even --check-config: a bad file stops the program before it starts.
  TempFile range("status_interval_s = -1;\n");
  r = run_binary("-c " + range.path + " --input lavfi:testsrc2 --target tcp://127.0.0.1:9");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(starts_with(r.err, range.path + ":1: status_interval_s: value -1 is out of range"), r.err);

  r = run_binary("-c /nonexistent/capture.conf --check-config");
  BOOST_TEST(r.status == 2);
  r = run_binary("--input camera --check-config");
  BOOST_TEST(r.status == 2);
  r = run_binary("--target nonsense --check-config");
  BOOST_TEST(r.status == 2);
  r = run_binary("--no-such-flag");
  BOOST_TEST(r.status == 2);
  r = run_binary("--version");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(starts_with(r.out, "mpegcast-capture "), r.out);
  BOOST_TEST(r.out.find("libavcodec") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(network_and_pipe_sources_are_rows_of_the_table) {
  InputConfig in;
  apply_input_spec(in, "rtsp://admin:pw@10.0.0.5:554/stream1");
  BOOST_TEST(in.source == "rtsp");
  BOOST_TEST(in.url == "rtsp://admin:pw@10.0.0.5:554/stream1");  // the whole URL, scheme included
  BOOST_TEST(describe_input(in) == "rtsp://***@10.0.0.5:554/stream1");
  apply_input_spec(in, "rtsps://cam/s");
  BOOST_TEST(in.source == "rtsp");
  apply_input_spec(in, "http://cam/mjpeg");
  BOOST_TEST(in.source == "http");
  apply_input_spec(in, "srt://cam:9000");
  BOOST_TEST(in.source == "srt");
  apply_input_spec(in, "udp://239.0.0.1:1234");
  BOOST_TEST(in.source == "udp");
  apply_input_spec(in, "pipe:-");
  BOOST_TEST(in.source == "pipe");
  BOOST_TEST(in.path == "-");
  try {
    apply_input_spec(in, "ftp://user:pw@h/x");
    BOOST_FAIL("ftp:// accepted");
  } catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()).find("pw") == std::string::npos, e.what());  // no secret in the message
  }

  // A file: that is a FIFO (or "-") is read live, as the pipe row.
  const std::string fifo = "/tmp/test_capture_config_fifo_" + std::to_string(getpid());
  BOOST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  InputConfig f;
  apply_input_spec(f, "file:" + fifo);
  resolve_auto_input(f);
  BOOST_TEST(f.source == "pipe");
  unlink(fifo.c_str());
  InputConfig regular;
  apply_input_spec(regular, "file:/etc/hostname");
  resolve_auto_input(regular);
  BOOST_TEST(regular.source == "file");
}

BOOST_AUTO_TEST_CASE(input_url_key_picks_the_row_by_scheme) {
  TempFile ok("input = { url = \"rtsp://cam.local/s\"; rtsp_transport = \"udp\"; on_end = \"slate\"; };\n");
  ConfigFile file(ok.path);
  const CaptureConfig c = load_capture_config(file);
  BOOST_TEST(c.input.source == "rtsp");
  BOOST_TEST(c.input.rtsp_transport == "udp");
  BOOST_TEST(c.input.on_end == "slate");
  std::string path;
  std::string e = load_error("input = { url = \"ftp://cam/s\"; };\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: input.url:"), e);
  e = load_error("input = { source = \"v4l2\"; url = \"rtsp://cam/s\"; };\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: input.url: is a rtsp URL but source"), e);
  e = load_error("input = { source = \"rtsp\"; };\n", &path);
  BOOST_TEST(starts_with(e, path + ":1: input.url: must be set"), e);
}

BOOST_AUTO_TEST_CASE(urls_in_library_log_lines_lose_their_passwords) {
  BOOST_TEST(redact_urls_in_text("Connection to tcp://u:p@h:554?timeout=0 failed") ==
             "Connection to tcp://***@h:554?timeout=0 failed");
  BOOST_TEST(redact_urls_in_text("a rtsp://x:y@h/s and http://k:l@m:1/ end") == "a rtsp://***@h/s and http://***@m:1/ end");
  BOOST_TEST(redact_urls_in_text("no url here, user@host") == "no url here, user@host");
  BOOST_TEST(redact_urls_in_text("rtsp://h/s?x=a@b") == "rtsp://h/s?x=a@b");
}

BOOST_AUTO_TEST_CASE(device_listing_says_what_each_node_offers_or_why_not) {
  BOOST_TEST(format_device_list({}).find("no video devices") == 0u);
  VideoDevice cam{"/dev/video0", "HD Webcam", "", true, {}};
  cam.formats.push_back({"mjpeg", "Motion-JPEG", {{1280, 720, {30, 15}}, {640, 480, {30}}}, ""});
  cam.formats.push_back({"yuyv422", "YUYV 4:2:2", {}, "160x120 - 1920x1080"});
  VideoDevice meta{"/dev/video1", "HD Webcam", "", false, {}};
  VideoDevice locked{"/dev/video2", "", "permission denied: add the user to group \"video\"", false, {}};
  const std::string s = format_device_list({cam, meta, locked});
  BOOST_TEST_MESSAGE(s);
  BOOST_TEST(s.find("/dev/video0\tHD Webcam\n  input_format \"mjpeg\" (Motion-JPEG): 1280x720 @ 30/15, 640x480 @ 30\n") !=
             std::string::npos);
  BOOST_TEST(s.find("input_format \"yuyv422\" (YUYV 4:2:2): 160x120 - 1920x1080") != std::string::npos);
  BOOST_TEST(s.find("/dev/video1\tHD Webcam\n  not a video capture node") != std::string::npos);
  BOOST_TEST(s.find("/dev/video2\t(no name)\n  permission denied: add the user to group \"video\"") != std::string::npos);
}
