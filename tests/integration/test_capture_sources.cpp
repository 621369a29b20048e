// mpegcast-capture on unattended edge boxes: a real RTSP camera (GStreamer's RTSP server) lost and
// back, a FIFO whose writer runs 1 % fast and then exits, two relays as targets with one
// stopped, and bad inputs. Every check decodes what a relay viewer received.
#define BOOST_TEST_MODULE capture_sources
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "decode_pictures.h"
#include "free_port.h"
#include "process.h"
#include "relay_process.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

// The slate's background in luma (capture/slate.h SlateColour::y): a picture that is mostly this
// value is a slate; neither test pattern (SMPTE bars, testsrc2, the FIFO's blocks) comes close.
constexpr int kSlateY = 55;
bool is_slate(const AVFrame* f) { return luma_fraction_near(f, kSlateY, 10) > 0.75; }

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// GStreamer's RTSP server (tests/support/rtsp_camera.py) on 127.0.0.1:`port`.
std::unique_ptr<Process> rtsp_camera(uint16_t port, const std::string& tag, const std::string& credentials = "") {
  std::vector<std::string> argv{"/usr/bin/python3", MPEGCAST_SOURCE_DIR "/tests/support/rtsp_camera.py",
                                std::to_string(port)};
  if (!credentials.empty()) argv.push_back(credentials);
  auto p = std::make_unique<Process>(tag, argv);
  BOOST_TEST_REQUIRE(p->wait_for_log("^listening", 10000), "RTSP server did not start: " << p->log_path());
  return p;
}

/// mpegcast-capture with `conf_text` as its config file.
std::unique_ptr<Process> capture(const std::string& tag, const std::string& input, const std::vector<std::string>& targets,
                                 const std::string& conf_text) {
  const std::string conf = test_log_dir() + "/" + tag + ".conf";
  std::ofstream(conf) << conf_text;
  std::vector<std::string> argv{MPEGCAST_CAPTURE_BIN, "-c", conf, "--input", input};
  for (const auto& t : targets) {
    argv.push_back("--target");
    argv.push_back(t);
  }
  return std::make_unique<Process>(tag, argv);
}

std::string publish_url(const RelayProcess& r, const std::string& stream) {
  return "http://127.0.0.1:" + std::to_string(r.ingest_port()) + "/publish/" + stream;
}

/// A relay viewer that notes when each byte arrived.
struct Viewer {
  Viewer(uint16_t port, const std::string& stream) : ws(port, "/live/" + stream), t0(Clock::now()) {
    BOOST_TEST_REQUIRE(ws.connect(), "viewer of " << stream << ": " << ws.error());
  }
  /// Reads for `seconds`; REQUIREs that the connection stays up.
  void read(double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      BOOST_TEST_REQUIRE(ws.read_for(50), "viewer lost its connection: " << ws.error());
      arrivals.note(ws.data().size(), since(t0));
    }
  }
  double now() const { return since(t0); }

  struct Pic {
    double t;  // arrival, s since t0
    bool slate;
    int width;
    const AVFrame* frame;
  };
  /// Decodes what arrived; `inspect` sees each picture.
  std::vector<Pic> pictures(const std::function<void(const AVFrame*, Pic&)>& inspect = nullptr) const {
    std::vector<Pic> out;
    decode_pictures(ws.data(), [&](const AVFrame* f, int64_t pos) {
      Pic p{arrivals.at(pos), is_slate(f), f->width, f};
      if (inspect) inspect(f, p);
      out.push_back(p);
    });
    return out;
  }

  WsClient ws;
  Clock::time_point t0;
  ArrivalLog arrivals;
};

/// The longest time between two pictures that arrived in [from_s, to_s].
double longest_gap_s(const std::vector<Viewer::Pic>& pics, double from_s, double to_s) {
  double last = from_s, gap = 0;
  for (const auto& p : pics) {
    if (p.t < from_s || p.t > to_s) continue;
    gap = std::max(gap, p.t - last);
    last = p.t;
  }
  return std::max(gap, to_s - last);
}

int count_in(const std::vector<Viewer::Pic>& pics, double from_s, double to_s, int slate /* -1 any */) {
  int n = 0;
  for (const auto& p : pics) n += p.t >= from_s && p.t <= to_s && (slate < 0 || p.slate == (slate == 1));
  return n;
}

double first_at(const std::vector<Viewer::Pic>& pics, double from_s, bool slate) {
  for (const auto& p : pics)
    if (p.t >= from_s && p.slate == slate) return p.t;
  return -1;
}

/// The relay saw exactly one publisher of `stream` and never lost it.
void expect_one_continuous_publisher(RelayProcess& relay, const std::string& stream) {
  const std::string log = relay.proc().log_text();
  BOOST_TEST(count_lines(log, "publishing stream " + stream) == 1, "publishers of " << stream << ":\n" << log);
  BOOST_TEST(count_lines(log, "stream " + stream + ": publisher") == 0, "the relay lost the publisher:\n" << log);
}

constexpr const char* kFastConf =
    "status_interval_s = 1;\n"
    "input = { frame_timeout_ms = 1000; reopen_initial_ms = 100; reopen_max_ms = 1000; open_timeout_ms = 3000; };\n"
    "target_defaults = { reconnect_initial_ms = 100; reconnect_max_ms = 1000; };\n";

}  // namespace

BOOST_AUTO_TEST_CASE(rtsp_camera_lost_and_back_behind_a_slate) {
  const uint16_t cam_port = free_port();
  auto cam = rtsp_camera(cam_port, "rtsp-camera-1");
  RelayProcess relay("", "relay-rtsp");
  auto cap = capture("capture-rtsp", "rtsp://127.0.0.1:" + std::to_string(cam_port) + "/cam",
                     {publish_url(relay, "cam1")}, kFastConf);
  relay.wait_live("cam1");
  Viewer v(relay.viewer_port(), "cam1");
  // What the agent says in band (shared/source_signal.h), as the relay's API shows it.
  auto source_state = [&relay] {
    const auto s = relay.stream("cam1");
    return s.is_object() && s["source"].is_object() ? s["source"]["state"].get<std::string>() : std::string("none");
  };
  v.read(6);
  const std::string state_live = source_state();
  const double t_kill = v.now();
  cam->kill_hard();
  v.read(5);
  const std::string state_lost = source_state();
  const double t_restart = v.now();
  cam = rtsp_camera(cam_port, "rtsp-camera-2");
  const double t_started = v.now();
  v.read(7);
  const std::string state_back = source_state();
  const double t_end = v.now();
  BOOST_TEST_REQUIRE(cap->running(), "capture agent exited: " << cap->log_path());

  const auto pics = v.pictures();
  const double first = pics.empty() ? 0 : pics.front().t;
  const int live1 = count_in(pics, 0, t_kill, 0);
  const double slate_at = first_at(pics, t_kill, true), live_again_at = first_at(pics, t_started, false);
  const int slates = count_in(pics, t_kill, t_started, 1);
  const int live2 = count_in(pics, live_again_at, t_end, 0);
  BOOST_TEST_MESSAGE("RTSP camera: " << pics.size() << " pictures; live " << live1 << " in " << t_kill - first
                                     << " s; killed at " << t_kill << " s: first slate " << slate_at - t_kill
                                     << " s later, " << slates << " slate pictures; server back at " << t_started
                                     << " s (launched " << t_restart << " s): live again " << live_again_at - t_started
                                     << " s later, then " << live2 << " live pictures in " << t_end - live_again_at
                                     << " s; longest gap " << longest_gap_s(pics, first, t_end) << " s");
  // RTSP camera end to end: >= 90 % of 25 fps while the camera is up.
  BOOST_TEST(live1 >= 0.9 * 25 * (t_kill - first));
  BOOST_TEST(pics.front().width == 320);
  // The slate within frame_timeout_ms (1 s) + a GOP of the relay's cache.
  BOOST_TEST(slate_at > 0);
  BOOST_TEST(slate_at - t_kill < 2.5);
  BOOST_TEST(slates >= 0.9 * 25 * (t_restart - slate_at));
  // Live again within the reopen backoff (1 s) + the RTSP handshake + an H.264 keyframe (1 s).
  BOOST_TEST(live_again_at > 0);
  BOOST_TEST(live_again_at - t_started < 4.0);
  BOOST_TEST(live2 >= 0.9 * 25 * (t_end - live_again_at));
  // The viewer decoded the whole time: never more than a few frames without a picture.
  BOOST_TEST(longest_gap_s(pics, first, t_end) < 0.5);
  expect_one_continuous_publisher(relay, "cam1");
  BOOST_TEST(cap->log_text().find("the slate is on the stream") != std::string::npos);
  // The relay knows which picture it carries: the API's source.state (the dashboard's tile colour).
  BOOST_TEST(state_live == "live");
  BOOST_TEST(state_lost == "slate");
  BOOST_TEST(state_back == "live");
}

BOOST_AUTO_TEST_CASE(fifo_source_one_percent_fast_builds_no_delay_and_its_end_shows_the_slate) {
  // The writer: y4m 160x120 declared at 25 fps but written at 25.25 fps (1 % fast, as a camera
  // whose clock runs fast). Each picture carries its number in 16 black/white blocks; the viewer
  // reads it back and compares when the picture arrived with when the writer made it.
  const std::string fifo = test_log_dir() + "/capture-fifo-" + std::to_string(getpid());
  unlink(fifo.c_str());
  BOOST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  RelayProcess relay("", "relay-fifo");
  auto cap = capture("capture-fifo", "file:" + fifo, {publish_url(relay, "fifo")}, kFastConf);
  const int fd = ::open(fifo.c_str(), O_WRONLY);  // blocks until the capture agent opens it
  BOOST_REQUIRE(fd >= 0);
  const int w = 160, h = 120;
  const std::string header = "YUV4MPEG2 W160 H120 F25:1 Ip A1:1 C420jpeg\n";
  BOOST_REQUIRE(::write(fd, header.data(), header.size()) == static_cast<ssize_t>(header.size()));
  std::vector<uint8_t> picture(w * h * 3 / 2);
  const double writer_fps = 25.25, seconds = 20;
  std::vector<double> made_at;  // writer's schedule, s since t0
  std::unique_ptr<Viewer> v;
  const auto t0 = Clock::now();
  for (int n = 0; n < writer_fps * seconds; ++n) {
    std::this_thread::sleep_until(t0 + std::chrono::duration<double>(n / writer_fps));
    std::memset(picture.data(), 128, picture.size());
    for (int bit = 0; bit < 16; ++bit) {  // blocks of 20x20 in two rows of 8
      const int x0 = (bit % 8) * 20, y0 = (bit / 8) * 20 + 40;
      for (int y = y0; y < y0 + 20; ++y) std::memset(&picture[y * w + x0], (n >> bit) & 1 ? 235 : 16, 20);
    }
    const char frame_header[] = "FRAME\n";
    if (::write(fd, frame_header, 6) != 6 || ::write(fd, picture.data(), picture.size()) != static_cast<ssize_t>(picture.size()))
      BOOST_FAIL("writing to the FIFO failed");
    made_at.push_back(since(t0));
    if (!v && n == 25) {
      relay.wait_live("fifo");
      v = std::make_unique<Viewer>(relay.viewer_port(), "fifo");
      v->t0 = t0;
    }
    if (v) {
      v->ws.read_for(0);
      v->arrivals.note(v->ws.data().size(), since(t0));
    }
  }
  ::close(fd);  // the writer exits: the slate follows
  const double t_end_writer = since(t0);
  v->read(3.5);
  unlink(fifo.c_str());

  // Delay of each numbered picture: arrival at the viewer − when the writer made it.
  std::vector<std::pair<double, double>> delays;  // (made at, delay)
  const auto pics = v->pictures([&](const AVFrame* f, Viewer::Pic& p) {
    if (p.slate || f->width != w) return;
    int n = 0;
    for (int bit = 0; bit < 16; ++bit) {
      const int x = (bit % 8) * 20 + 10, y = (bit / 8) * 20 + 50;
      n |= (f->data[0][y * f->linesize[0] + x] > 128 ? 1 : 0) << bit;
    }
    if (n < static_cast<int>(made_at.size()) && p.t > 0) delays.emplace_back(made_at[n], p.t - made_at[n]);
  });
  auto mean_delay = [&](double from_s, double to_s) {
    double sum = 0;
    int k = 0;
    for (const auto& [made, d] : delays)
      if (made >= from_s && made < to_s) sum += d, ++k;
    return k ? sum / k * 1000 : -1.0;
  };
  const double early_ms = mean_delay(2, 7), late_ms = mean_delay(seconds - 5, seconds);
  const int slates = count_in(pics, t_end_writer, v->now(), 1);
  BOOST_TEST_MESSAGE("FIFO 1 % fast: " << delays.size() << " numbered pictures decoded; mean delay writer → viewer "
                                       << early_ms << " ms at 2-7 s, " << late_ms << " ms at " << seconds - 5 << "-"
                                       << seconds << " s (paced by timestamp it would grow by ~10 ms/s, ~130 ms here); "
                                       << slates << " slate pictures after the writer exited");
  BOOST_TEST(delays.size() >= 0.85 * 25 * (seconds - 2));
  BOOST_TEST(early_ms > 0);
  BOOST_TEST(late_ms - early_ms < 50.0);
  BOOST_TEST(slates >= 25);  // frame_timeout is 1 s, 3.5 s of reading: at least a second of slate
  BOOST_TEST(cap->log_text().find("is a pipe: read live") != std::string::npos);
  expect_one_continuous_publisher(relay, "fifo");
}

BOOST_AUTO_TEST_CASE(two_relays_one_stopped_the_other_keeps_decoding) {
  RelayProcess a("", "relay-a");
  auto b = std::make_unique<RelayProcess>("", "relay-b");
  const uint16_t b_viewer = b->viewer_port(), b_ingest = b->ingest_port();
  auto cap = capture("capture-two", "lavfi:testsrc2=size=320x240:rate=25",
                     {publish_url(a, "cam1"), publish_url(*b, "cam1")}, kFastConf);
  a.wait_live("cam1");
  b->wait_live("cam1");
  Viewer va(a.viewer_port(), "cam1");
  va.read(3);
  const double t_stop = va.now();
  b->proc().kill_hard();
  const size_t log_mark = cap->log_size();
  va.read(5);
  const double t_restart = va.now();
  b = std::make_unique<RelayProcess>("", "relay-b2", b_viewer, b_ingest);
  const auto restarted = Clock::now();
  BOOST_TEST_REQUIRE(cap->wait_for_log("target http://127.0.0.1:" + std::to_string(b_ingest) + "/publish/cam1: connected",
                                       5000, log_mark),
                     "the agent did not reconnect to relay b");
  const double reconnect_s = since(restarted);
  Viewer vb(b->viewer_port(), "cam1");
  for (int i = 0; i < 30; ++i) {  // each read takes 50 ms
    vb.read(0.01);
    va.read(0.01);
  }
  // Relay b's viewer's time, taken when the reading ends (decoding below takes a while).
  const double b_secs = std::chrono::duration<double>(Clock::now() - *vb.ws.first_byte_time()).count();

  const auto pa = va.pictures(), pb = vb.pictures();
  // The agent's frame counter never stalled: every status line while b was down shows ~25 fps out.
  const std::string log = cap->log_text().substr(log_mark);
  const std::regex fps_out("fps in [0-9.]+ out ([0-9.]+)");
  int lines = 0, slow = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), fps_out), end; it != end; ++it, ++lines) {
    if (lines >= 1 && lines <= 4) slow += std::stod((*it)[1]) < 22.0;  // the first spans the kill
  }
  BOOST_TEST_MESSAGE("relay b killed at " << t_stop << " s: viewer of a decoded " << count_in(pa, t_stop, t_restart, 0)
                                         << " pictures in the " << t_restart - t_stop << " s, longest gap "
                                         << longest_gap_s(pa, t_stop, t_restart) << " s; relay b back: agent reconnected in "
                                         << reconnect_s << " s, its new viewer decoded " << pb.size() << " pictures in "
                                         << b_secs << " s");
  BOOST_TEST(count_in(pa, t_stop, t_restart, 0) >= 0.9 * 25 * (t_restart - t_stop));
  BOOST_TEST(longest_gap_s(pa, t_stop, t_restart) < 0.5);  // (after that the test reads a only now and then)
  BOOST_TEST(lines >= 4);
  BOOST_TEST(slow == 0, log);
  BOOST_TEST(reconnect_s < 2.0);  // reconnect_max_ms = 1000 with 20 % jitter, plus the connect
  BOOST_TEST(pb.size() >= 0.9 * 25 * b_secs);
  expect_one_continuous_publisher(a, "cam1");
}

BOOST_AUTO_TEST_CASE(bad_inputs_log_one_line_and_put_the_slate_on_the_stream) {
  const uint16_t cam_port = free_port();
  auto cam = rtsp_camera(cam_port, "rtsp-camera-auth", "bob:right");
  // A file whose picture size changes in the middle: 320x240, then 160x120.
  // (Two TS files one after the other: the second's sequence header changes the size.)
  const std::string sizes = test_log_dir() + "/two-sizes.ts";
  {
    std::ofstream out(sizes, std::ios::binary);
    for (const char* size : {"320x240", "160x120"}) {
      const std::string part = test_log_dir() + "/size-" + size + ".ts";
      Process ff(std::string("ffmpeg-") + size, {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f",
                                                 "lavfi", "-i", std::string("testsrc2=rate=25:d=2:size=") + size, "-c:v",
                                                 "mpeg1video", "-g", "25", "-f", "mpegts", part});
      for (int i = 0; i < 200 && ff.running(); ++i) std::this_thread::sleep_for(50ms);
      BOOST_TEST_REQUIRE(ff.exit_status() == 0, "ffmpeg failed: " << ff.log_path());
      out << std::ifstream(part, std::ios::binary).rdbuf();
    }
  }
  struct Case {
    const char* stream;
    std::string input;
    const char* must_log;  // in the line that names the source
  };
  const uint16_t nobody = free_port();
  const std::vector<Case> cases = {
      {"unreachable", "rtsp://user:hunter2@127.0.0.1:" + std::to_string(nobody) + "/cam", "Connection refused"},
      {"wrongpath", "rtsp://bob:right@127.0.0.1:" + std::to_string(cam_port) + "/nope", "cannot open"},
      {"refused", "rtsp://bob:hunter2@127.0.0.1:" + std::to_string(cam_port) + "/cam", "cannot open"},
      {"notacamera", "v4l2:/dev/null", "cannot open"},
      {"sizes", "file:" + sizes, "picture size changed from 320x240 to 160x120"},
  };
  RelayProcess relay("", "relay-bad");
  std::vector<std::unique_ptr<Process>> caps;
  for (const auto& c : cases) {
    caps.push_back(capture(std::string("capture-bad-") + c.stream, c.input, {publish_url(relay, c.stream)},
                           std::string(kFastConf) + "output = { width = 320; height = 240; framerate = 25; };\n"));
  }
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (const auto& c : cases) {
    relay.wait_live(c.stream);
    viewers.push_back(std::make_unique<Viewer>(relay.viewer_port(), c.stream));
  }
  const auto start = Clock::now();
  while (Clock::now() - start < 6s)
    for (auto& v : viewers) v->read(0.01);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    BOOST_TEST_CONTEXT(c.stream) {
      BOOST_TEST(caps[i]->running());
      const auto pics = viewers[i]->pictures();
      int slates = 0, wrong_size = 0;
      for (const auto& p : pics) slates += p.slate, wrong_size += p.width != 320;
      std::string log = caps[i]->log_text();
      log = log.substr(log.find('\n') + 1);  // not the command line the test wrote
      const int warnings = count_lines(log, "^<[34]>");
      BOOST_TEST_MESSAGE(c.stream << ": " << pics.size() << " pictures (" << slates << " slate), " << warnings
                                  << " warning lines about the source in 6 s");
      BOOST_TEST(pics.size() >= 0.8 * 25 * 5);
      BOOST_TEST(wrong_size == 0);
      BOOST_TEST(log.find(c.must_log) != std::string::npos, log);
      BOOST_TEST(log.find("hunter2") == std::string::npos, log);
      if (std::string(c.stream) == "sizes") {
        BOOST_TEST(slates == 0);
        BOOST_TEST(count_lines(log, "^<3>") == 0, log);  // the decoder follows each change (warnings: the joint's CC jump)
        BOOST_TEST(count_lines(log, "fps in [0-9.]+ out") >= 4);
        BOOST_TEST(count_lines(log, "fps in (2[0-9]|3[0-2])\\.") >= count_lines(log, "fps in [0-9.]+ out") - 1, log);  // paced
      } else {
        BOOST_TEST(slates >= 0.8 * 25 * 5);
        BOOST_TEST(warnings <= 2, log);  // the failure once, not once per retry
      }
    }
  }
}
