// mpegcast-capture against receivers that are not our relay: the ffmpeg CLI listening for an
// HTTP POST, a target that is down at start, and a peer that accepts but never reads.
#define BOOST_TEST_MODULE capture_push
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::string temp_dir() {
  char dir[] = "/tmp/test_capture_push_XXXXXX";
  BOOST_REQUIRE(mkdtemp(dir) != nullptr);
  return dir;
}

std::string read_file(const std::string& path) {
  std::stringstream s;
  s << std::ifstream(path).rdbuf();
  return s.str();
}

/// A child process with stdout+stderr in a file; SIGKILLed if still running at destruction.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    BOOST_REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0]);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = status;
      return false;
    }
    return true;
  }
  void signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  /// Waits up to `timeout_s`; returns the exit status, or -1 when it did not exit (or was killed).
  int wait(double timeout_s) {
    const auto start = Clock::now();
    while (running()) {
      if (seconds_since(start) > timeout_s) return -1;
      sleep_s(0.02);
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

/// The ffmpeg CLI as an HTTP listener: receives one POST on `url` and remuxes it to `out`.
std::vector<std::string> ffmpeg_http_receiver(int port, const std::string& out) {
  return {"/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-listen", "1", "-i",
          "http://127.0.0.1:" + std::to_string(port) + "/publish/x", "-c", "copy", "-f", "mpegts", "-y", out};
}

std::vector<std::string> capture(const std::vector<std::string>& targets, const std::string& conf = "") {
  std::vector<std::string> a{MPEGCAST_CAPTURE_BIN};
  if (!conf.empty()) {
    a.push_back("-c");
    a.push_back(conf);
  }
  a.push_back("--input");
  a.push_back("lavfi:testsrc2=size=320x240:rate=25");
  for (const auto& t : targets) {
    a.push_back("--target");
    a.push_back(t);
  }
  return a;
}

struct Decoded {
  std::string codec;
  int frames = 0;
  int wrong_size = 0;
  bool first_packet_key = false;
  char first_picture_type = '?';
};

/// Decodes every video frame of a TS file with libavformat/libavcodec.
Decoded decode_file(const std::string& path) {
  Decoded d;
  AVFormatContext* ic = nullptr;
  if (avformat_open_input(&ic, path.c_str(), nullptr, nullptr) < 0) return d;
  avformat_find_stream_info(ic, nullptr);
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (si < 0 || !codec) {
    avformat_close_input(&ic);
    return d;
  }
  d.codec = codec->name;
  AVCodecContext* dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec, ic->streams[si]->codecpar);
  avcodec_open2(dec, codec, nullptr);
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  bool first = true;
  auto drain = [&] {
    while (avcodec_receive_frame(dec, frame) == 0) {
      if (d.frames == 0) d.first_picture_type = av_get_picture_type_char(frame->pict_type);
      ++d.frames;
      if (frame->width != 320 || frame->height != 240) ++d.wrong_size;
      av_frame_unref(frame);
    }
  };
  while (av_read_frame(ic, pkt) >= 0) {
    if (pkt->stream_index == si) {
      if (first) d.first_packet_key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      first = false;
      avcodec_send_packet(dec, pkt);
      drain();
    }
    av_packet_unref(pkt);
  }
  avcodec_send_packet(dec, nullptr);
  drain();
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&ic);
  return d;
}

bool wait_for_text(const std::string& path, const std::string& text, double timeout_s) {
  const auto start = Clock::now();
  while (seconds_since(start) < timeout_s) {
    if (read_file(path).find(text) != std::string::npos) return true;
    sleep_s(0.05);
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(http_post_to_ffmpeg_listener_decodes_at_full_rate) {
  const std::string dir = temp_dir();
  const int port = free_port();
  Child rx(ffmpeg_http_receiver(port, dir + "/out.ts"), dir + "/rx.log");
  sleep_s(0.5);
  const auto launched = Clock::now();
  Child cap(capture({"http://127.0.0.1:" + std::to_string(port) + "/publish/x?secret=s3cr3t"}), dir + "/capture.log");
  BOOST_REQUIRE(wait_for_text(dir + "/capture.log", "connected", 5));
  sleep_s(8);
  const double streamed_s = seconds_since(launched);
  cap.signal(SIGTERM);
  const auto term = Clock::now();
  BOOST_TEST(cap.wait(3) == 0);
  BOOST_TEST(seconds_since(term) < 2.0);
  BOOST_TEST(rx.wait(10) == 0, "receiver did not finish: " << read_file(dir + "/rx.log"));

  const std::string log = read_file(dir + "/capture.log");
  BOOST_TEST(log.find("s3cr3t") == std::string::npos);  // the secret never reaches the log

  const Decoded d = decode_file(dir + "/out.ts");
  const double expected = 25.0 * (streamed_s - 1.0);  // allow 1 s for start-up
  BOOST_TEST_MESSAGE("decoded " << d.frames << " frames, expected about " << expected);
  BOOST_TEST(d.codec == "mpeg1video");
  BOOST_TEST(d.frames >= 0.9 * expected);
  BOOST_TEST(d.frames <= 25.0 * streamed_s + 10);  // not faster than real time
  BOOST_TEST(d.wrong_size == 0);
  BOOST_TEST(d.first_packet_key);
  BOOST_TEST(d.first_picture_type == 'I');
}

BOOST_AUTO_TEST_CASE(target_down_at_start_connects_when_the_receiver_appears) {
  const std::string dir = temp_dir();
  const int port = free_port();
  Child cap(capture({"http://127.0.0.1:" + std::to_string(port) + "/publish/x"}), dir + "/capture.log");
  sleep_s(3);
  BOOST_TEST_REQUIRE(cap.running(), read_file(dir + "/capture.log"));
  BOOST_TEST(read_file(dir + "/capture.log").find("connect failed") != std::string::npos);
  BOOST_TEST(read_file(dir + "/capture.log").find(": connected") == std::string::npos);

  Child rx(ffmpeg_http_receiver(port, dir + "/out.ts"), dir + "/rx.log");
  const auto appeared = Clock::now();
  BOOST_REQUIRE_MESSAGE(wait_for_text(dir + "/capture.log", ": connected", 8), read_file(dir + "/capture.log"));
  BOOST_TEST_MESSAGE("connected " << seconds_since(appeared) << " s after the receiver appeared");
  const auto connected = Clock::now();
  sleep_s(4);
  const double streamed_s = seconds_since(connected);
  cap.signal(SIGTERM);
  BOOST_TEST(cap.wait(3) == 0);
  BOOST_TEST(rx.wait(10) == 0);

  const Decoded d = decode_file(dir + "/out.ts");
  BOOST_TEST_MESSAGE("decoded " << d.frames << " frames in " << streamed_s << " s");
  BOOST_TEST(d.first_packet_key);       // the late peer starts at a keyframe
  BOOST_TEST(d.first_picture_type == 'I');
  BOOST_TEST(d.frames >= 0.9 * 25.0 * (streamed_s - 0.5));
  BOOST_TEST(d.wrong_size == 0);
}

BOOST_AUTO_TEST_CASE(a_peer_that_never_reads_does_not_slow_the_other_target) {
  const std::string dir = temp_dir();
  // The stuck peer: accepts TCP connections with a tiny window and never reads.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_REQUIRE(listen(lfd, 8) == 0);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  const int stuck_port = ntohs(a.sin_port);
  std::vector<int> accepted;
  std::thread acceptor([&] {
    for (int i = 0; i < 4; ++i) {
      int fd = accept(lfd, nullptr, nullptr);
      if (fd < 0) return;
      accepted.push_back(fd);
    }
  });

  const std::string conf = dir + "/capture.conf";
  std::ofstream(conf) << "status_interval_s = 1;\n"
                         "target_defaults = { queue_ms = 1000; rw_timeout_ms = 3000; };\n";
  const int port = free_port();
  Child rx(ffmpeg_http_receiver(port, dir + "/out.ts"), dir + "/rx.log");
  sleep_s(0.5);
  const auto launched = Clock::now();
  Child cap(capture({"tcp://127.0.0.1:" + std::to_string(stuck_port),
                     "http://127.0.0.1:" + std::to_string(port) + "/publish/x"},
                    conf),
            dir + "/capture.log");
  sleep_s(9);
  const double streamed_s = seconds_since(launched);
  cap.signal(SIGTERM);
  const auto term = Clock::now();
  BOOST_TEST(cap.wait(4) == 0);
  BOOST_TEST(seconds_since(term) < 2.5);  // a write stuck on the dead peer is interrupted
  BOOST_TEST(rx.wait(10) == 0);
  shutdown(lfd, SHUT_RDWR);
  close(lfd);
  acceptor.join();
  for (int fd : accepted) close(fd);

  const std::string log = read_file(dir + "/capture.log");
  BOOST_TEST_MESSAGE(log);
  // The stuck target overflowed its queue (whole GOPs dropped) or was declared lost.
  const std::regex gops_dropped("target tcp://[^ ]+ [a-z]+, queued [0-9]+ ms, dropped [1-9][0-9]* GOPs");
  const bool dropped = std::regex_search(log, gops_dropped) || log.find("no progress for") != std::string::npos;
  BOOST_TEST(dropped);
  const Decoded d = decode_file(dir + "/out.ts");
  BOOST_TEST_MESSAGE("good target: decoded " << d.frames << " frames in " << streamed_s << " s");
  BOOST_TEST(d.frames >= 0.9 * 25.0 * (streamed_s - 1.0));
  BOOST_TEST(d.wrong_size == 0);
}
