// Self-test of the test support library, against the ffmpeg CLI and tiny in-process servers.
#define BOOST_TEST_MODULE test_support
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "decode_ts.h"
#include "free_port.h"
#include "http_get.h"
#include "http_message.h"
#include "http_stream_reader.h"
#include "process.h"
#include "sha1_base64.h"
#include "ts_pts.h"
#include "ws_client.h"

using namespace mpegcast::test;

namespace {

// Accepts one connection on 127.0.0.1:port, reads the request head, runs `serve(fd, head)`.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int, const std::string&)> serve) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    BOOST_REQUIRE(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(lfd_, 4);
    th_ = std::thread([this, serve] {
      int fd = ::accept(lfd_, nullptr, nullptr);
      if (fd < 0) return;
      std::string head;
      char c;
      while (head.find("\r\n\r\n") == std::string::npos && ::read(fd, &c, 1) == 1) head += c;
      serve(fd, head);
      ::close(fd);
    });
  }
  ~OneShotServer() {
    ::shutdown(lfd_, SHUT_RDWR);
    th_.join();
    ::close(lfd_);
  }
  uint16_t port() const { return port_; }

 private:
  int lfd_ = -1;
  uint16_t port_ = 0;
  std::thread th_;
};

void send_str(int fd, const std::string& s) { (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A 2 s MPEG-1 TS made by the ffmpeg CLI, 320x240 at 25 fps, GOP 25, cached per run.
const std::vector<uint8_t>& sample_ts() {
  static std::vector<uint8_t> ts = [] {
    std::string path = test_log_dir() + "/test_support-sample.ts";
    Process ff("ffmpeg-sample", {MPEGCAST_FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                                 "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "mpeg1video", "-bf", "0", "-g",
                                 "25", "-f", "mpegts", path});
    for (int i = 0; i < 300 && ff.running(); ++i) usleep(100000);
    BOOST_REQUIRE_MESSAGE(ff.stop() == 0, "ffmpeg failed to make the sample; see " << ff.log_path());
    return read_file(path);
  }();
  return ts;
}

}  // namespace

BOOST_AUTO_TEST_CASE(websocket_accept_matches_rfc6455_example) {
  BOOST_TEST(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  auto d = sha1("abc");
  BOOST_TEST(base64(d.data(), d.size()) == "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  const uint8_t two[] = {'a', 'b'};
  BOOST_TEST(base64(two, 2) == "YWI=");
}

BOOST_AUTO_TEST_CASE(chunked_decoder_handles_any_split) {
  const std::string wire = "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
  for (size_t step : {size_t(1), size_t(3), size_t(7), wire.size()}) {
    ChunkedDecoder d;
    std::vector<uint8_t> out;
    for (size_t i = 0; i < wire.size(); i += step) {
      size_t n = std::min(step, wire.size() - i);
      BOOST_TEST_REQUIRE(d.feed(reinterpret_cast<const uint8_t*>(wire.data()) + i, n, out));
    }
    BOOST_TEST(d.done());
    BOOST_TEST(std::string(out.begin(), out.end()) == "Wikipedia in\r\n\r\nchunks.");
  }
  ChunkedDecoder bad;
  std::vector<uint8_t> out;
  BOOST_TEST(!bad.feed(reinterpret_cast<const uint8_t*>("zz\r\n"), 4, out));
}

BOOST_AUTO_TEST_CASE(free_port_is_bindable) {
  uint16_t p = free_port();
  BOOST_TEST(p > 0);
  OneShotServer s([](int, const std::string&) {});
  BOOST_TEST(s.port() != 0);
  // Nothing listens on p: a GET fails cleanly with status 0.
  auto r = http_get(p, "/", 500);
  BOOST_TEST(r.status == 0);
  BOOST_TEST(!r.error.empty());
}

BOOST_AUTO_TEST_CASE(process_logs_waits_and_stops) {
  Process p("sh", {"/bin/sh", "-c", "echo starting; sleep 0.2; echo 'x is ready now' >&2; exec sleep 30"});
  BOOST_TEST(p.wait_for_log("ready", 3000), "log: " << p.log_text());
  BOOST_TEST(!p.wait_for_log("never printed", 200));
  size_t mark = p.log_size();
  BOOST_TEST(!p.wait_for_log("ready", 100, mark), "only bytes after the mark are searched");
  BOOST_TEST(p.running());
  BOOST_TEST(p.stop() == 128 + SIGTERM);
  BOOST_TEST(!p.running());

  Process q("false", {"/bin/sh", "-c", "exit 3"});
  BOOST_TEST(!q.wait_for_log("anything", 3000), "returns early when the child exits");
  BOOST_TEST(q.stop() == 3);

  Process k("stubborn", {"/bin/sh", "-c", "trap '' TERM; echo armed; while :; do sleep 0.05; done"});
  BOOST_TEST(k.wait_for_log("armed", 3000));
  BOOST_TEST(k.stop(300) == 128 + SIGKILL);

  Process missing("missing", {"/nonexistent/program"});
  BOOST_TEST(missing.wait_for_log("exec failed", 3000));
  BOOST_TEST(missing.stop() == 127);
}

BOOST_AUTO_TEST_CASE(http_get_reads_length_chunked_and_close_bodies) {
  {
    OneShotServer s([](int fd, const std::string& head) {
      BOOST_TEST(head.find("GET /api HTTP/1.1\r\n") == 0);
      send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    });
    auto r = http_get(s.port(), "/api");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.headers["content-type"] == "application/json");
    BOOST_TEST(r.body == "{\"a\":1}");
    BOOST_TEST(r.error == "");
  }
  {
    OneShotServer s([](int fd, const std::string&) {
      send_str(fd, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nno!\r\n0\r\n\r\n");
    });
    auto r = http_get(s.port(), "/x");
    BOOST_TEST(r.status == 404);
    BOOST_TEST(r.body == "no!");
  }
  {
    OneShotServer s([](int fd, const std::string&) { send_str(fd, "HTTP/1.0 200 OK\r\n\r\nuntil close"); });
    auto r = http_get(s.port(), "/x");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == "until close");
  }
}

BOOST_AUTO_TEST_CASE(decode_ts_counts_frames_of_a_cli_file) {
  const auto& ts = sample_ts();
  BOOST_TEST_REQUIRE(ts.size() > 188 * 10);
  auto r = decode_ts(ts);
  BOOST_TEST_MESSAGE("whole file: " << r.summary());
  BOOST_TEST(r.opened);
  BOOST_TEST(r.codec == "mpeg1video");
  BOOST_TEST(r.width == 320);
  BOOST_TEST(r.height == 240);
  BOOST_TEST(r.frames_decoded == 50, "decoded " << r.frames_decoded << " of 50 frames");
  BOOST_TEST(r.first_frame_packet_index == 0);
  BOOST_TEST(r.errors == 0, r.error_text);

  // Starting 30 % into the file (mid-GOP): pictures before the next keyframe are lost.
  size_t cut = (ts.size() * 3 / 10) / 188 * 188;
  auto mid = decode_ts(std::vector<uint8_t>(ts.begin() + static_cast<std::ptrdiff_t>(cut), ts.end()));
  BOOST_TEST_MESSAGE("from 30 %: " << mid.summary());
  BOOST_TEST(mid.first_frame_packet_index > 0, "first decodable picture is video packet #"
                                                   << mid.first_frame_packet_index);
  BOOST_TEST(mid.frames_decoded <= 25 + 1);

  auto empty = decode_ts({});
  BOOST_TEST(!empty.opened);
  BOOST_TEST(empty.frames_decoded == 0);
  std::vector<uint8_t> junk(188 * 50, 0x55);
  BOOST_TEST(decode_ts(junk).frames_decoded == 0);
}

BOOST_AUTO_TEST_CASE(video_pts_tracker_follows_the_newest_picture) {
  const auto& ts = sample_ts();
  const DecodeResult r = decode_ts(ts);
  VideoPtsTracker t;
  BOOST_TEST(!t.last_pts_s());
  // Fed in pieces as a viewer receives them: the newest PTS only moves forward, and at the end it
  // is the last picture's, as libavformat reads it (no B-frames: PTS order is decode order).
  std::vector<uint8_t> got;
  double last = -1;
  for (size_t off = 0; off < ts.size(); off += 188 * 7) {
    got.insert(got.end(), ts.begin() + static_cast<std::ptrdiff_t>(off),
               ts.begin() + static_cast<std::ptrdiff_t>(std::min(ts.size(), off + 188 * 7)));
    t.update(got);
    if (t.last_pts_s()) {
      BOOST_TEST(*t.last_pts_s() >= last);
      last = *t.last_pts_s();
    }
  }
  BOOST_TEST_REQUIRE(t.last_pts_s().has_value());
  BOOST_TEST(*t.last_pts_s() == r.last_pts_s, boost::test_tools::tolerance(0.001));
}

BOOST_AUTO_TEST_CASE(http_stream_reader_handles_close_delimited_and_chunked) {
  const auto& ts = sample_ts();
  {
    OneShotServer s([&](int fd, const std::string&) {
      send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n");
      (void)!::send(fd, ts.data(), ts.size(), MSG_NOSIGNAL);
    });
    HttpStreamReader rd(s.port(), "/live/x.ts");
    BOOST_TEST(!rd.read_for(3000), "the server closes after the body");
    BOOST_TEST(rd.ended());
    BOOST_TEST(rd.status() == 200);
    BOOST_TEST(rd.headers().at("content-type") == "video/mp2t");
    BOOST_TEST(rd.body().size() == ts.size());
    BOOST_TEST(rd.first_byte_time().has_value());
  }
  {
    OneShotServer s([&](int fd, const std::string&) {
      send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (size_t off = 0; off < ts.size(); off += 1000) {
        size_t n = std::min<size_t>(1000, ts.size() - off);
        char hex[32];
        std::snprintf(hex, sizeof(hex), "%zx\r\n", n);
        send_str(fd, hex);
        (void)!::send(fd, ts.data() + off, n, MSG_NOSIGNAL);
        send_str(fd, "\r\n");
      }
      usleep(300000);  // the reader must still be reading an open stream
      send_str(fd, "0\r\n\r\n");
    });
    HttpStreamReader rd(s.port(), "/live/x.ts");
    BOOST_TEST(rd.read_for(100), "stream still open after 100 ms: " << rd.error());
    BOOST_TEST(!rd.read_for(3000));
    BOOST_TEST(rd.error() == "");
    BOOST_TEST(rd.ended());
    BOOST_TEST((rd.body() == ts), "de-chunked body equals the file");
  }
}

BOOST_AUTO_TEST_CASE(http_stream_reader_reads_ffmpeg_http_server) {
  uint16_t port = free_port();
  Process ff("ffmpeg-http", {MPEGCAST_FFMPEG, "-hide_banner", "-loglevel", "info", "-re", "-f", "lavfi", "-i",
                             "testsrc2=size=320x240:rate=25", "-c:v", "mpeg1video", "-bf", "0", "-g", "25", "-f",
                             "mpegts", "-listen", "1", "http://127.0.0.1:" + std::to_string(port) + "/x.ts"});
  HttpStreamReader rd(port, "/x.ts");
  for (int i = 0; i < 50; ++i) {  // ffmpeg needs a moment to listen
    try {
      rd.connect(500);
      break;
    } catch (const std::exception&) {
      usleep(100000);
    }
  }
  BOOST_TEST_REQUIRE(rd.read_for(3000), "reading from ffmpeg: " << rd.error());
  BOOST_TEST(rd.status() == 200);
  BOOST_TEST(rd.headers().count("transfer-encoding") == 1);
  BOOST_TEST_REQUIRE(rd.first_byte_time().has_value());
  double secs = std::chrono::duration<double>(Clock::now() - *rd.first_byte_time()).count();
  auto r = decode_ts(rd.body());
  BOOST_TEST_MESSAGE("ffmpeg HTTP-TS over " << secs << " s: " << r.summary());
  BOOST_TEST(r.width == 320);
  BOOST_TEST(r.frames_decoded >= 0.9 * 25 * (secs - 0.2), r.frames_decoded << " frames in " << secs << " s");
  BOOST_TEST(r.first_frame_packet_index == 0);
}

BOOST_AUTO_TEST_CASE(ws_client_handshakes_reads_binary_and_answers_ping) {
  std::string pong;
  std::string seen_head;
  OneShotServer s([&](int fd, const std::string& head) {
    seen_head = head;
    auto kpos = head.find("Sec-WebSocket-Key: ");
    std::string key = head.substr(kpos + 19, head.find("\r\n", kpos) - kpos - 19);
    send_str(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Protocol: null\r\nSec-WebSocket-Accept: " + websocket_accept(key) + "\r\n\r\n");
    std::string frames;
    frames += std::string("\x82\x03" "abc", 5);                // binary "abc"
    frames += std::string("\x02\x02" "de", 4);                 // binary fragment "de"
    frames += std::string("\x89\x02" "hi", 4);                 // ping inside the fragmented message
    frames += std::string("\x80\x01" "f", 3);                  // continuation, FIN
    frames += std::string("\x81\x02" "tx", 4);                 // text: ignored in data()
    std::string big(300, 'z');
    frames += std::string("\x82\x7e\x01\x2c", 4) + big;        // 16-bit length
    send_str(fd, frames);
    uint8_t buf[64];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);  // the pong: masked, 2 + 4 + 2 bytes
    if (n == 8 && buf[0] == 0x8A && buf[1] == 0x82)
      for (int i = 0; i < 2; ++i) pong += static_cast<char>(buf[6 + i] ^ buf[2 + i]);
    send_str(fd, std::string("\x88\x02\x03\xe8", 4));  // close 1000
    ::recv(fd, buf, sizeof(buf), 0);
  });
  WsClient ws(s.port(), "/live/cam1", "null");
  BOOST_TEST_REQUIRE(ws.connect(2000), ws.error());
  BOOST_TEST(!ws.read_for(2000), "the server closes");
  BOOST_TEST(seen_head.find("Sec-WebSocket-Protocol: null\r\n") != std::string::npos);
  BOOST_TEST(ws.closed_by_server());
  BOOST_TEST(ws.close_code() == 1000);
  BOOST_TEST(ws.message_count() == 3u);
  BOOST_TEST((ws.message_sizes() == std::vector<size_t>{3, 3, 300}));
  BOOST_TEST(ws.text_message_count() == 1u);
  BOOST_TEST(ws.pings_answered() == 1u);
  BOOST_TEST(pong == "hi");
  BOOST_TEST(std::string(ws.data().begin(), ws.data().end()) == "abcdef" + std::string(300, 'z'));
}

BOOST_AUTO_TEST_CASE(ws_client_rejects_a_wrong_accept) {
  OneShotServer s([](int fd, const std::string&) {
    send_str(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n");
  });
  WsClient ws(s.port(), "/live/cam1");
  BOOST_TEST(!ws.connect(2000));
  BOOST_TEST(ws.error().find("Sec-WebSocket-Accept") != std::string::npos, ws.error());
}
