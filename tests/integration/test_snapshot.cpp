// Snapshots (issue 12): GET /live/<stream>.jpg against a real relay and capture agent. The JPEGs are decoded
// with libavcodec; 200 requests at once are served while a WebSocket viewer keeps its pictures; the decode
// counter stays at one per keyframe; waiting requests whose connections close are forgotten safely.
#define BOOST_TEST_MODULE test_snapshot
#include <boost/test/unit_test.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "collect.h"
#include "decode_ts.h"
#include "http_get.h"
#include "relay_process.h"
#include "tcp_socket.h"
#include "ws_client.h"

using namespace mpegcast::test;
using namespace std::chrono_literals;

namespace {

std::string ingest_url(const RelayProcess& r, const std::string& stream) {
  return "http://127.0.0.1:" + std::to_string(r.ingest_port()) + "/publish/" + stream;
}

struct Picture {
  int width = 0, height = 0;
  std::string error;
};

/// Decodes one JPEG with libavcodec's mjpeg decoder.
Picture decode_jpeg(const std::string& jpeg) {
  Picture p;
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
  AVCodecContext* ctx = codec ? avcodec_alloc_context3(codec) : nullptr;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  if (!ctx || !pkt || !frame || avcodec_open2(ctx, codec, nullptr) < 0) {
    p.error = "cannot open the mjpeg decoder";
  } else {
    pkt->data = reinterpret_cast<uint8_t*>(const_cast<char*>(jpeg.data()));
    pkt->size = static_cast<int>(jpeg.size());
    if (avcodec_send_packet(ctx, pkt) < 0 || avcodec_receive_frame(ctx, frame) < 0) {
      p.error = "not a decodable JPEG (" + std::to_string(jpeg.size()) + " bytes)";
    } else if (frame->decode_error_flags) {
      p.error = "JPEG decoded with errors";
    } else {
      p.width = frame->width;
      p.height = frame->height;
    }
  }
  av_frame_free(&frame);
  pkt->data = nullptr;
  pkt->size = 0;
  av_packet_free(&pkt);
  avcodec_free_context(&ctx);
  return p;
}

double counter(const RelayProcess& relay, const char* name) { return relay.api("/api/v1/node").value(name, -1.0); }

double keyframes(const RelayProcess& relay, const std::string& stream) {
  const nlohmann::json s = relay.stream(stream);
  return s.is_object() ? s.value("keyframes", -1.0) : -1.0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(snapshot_is_the_stream_as_jpeg_at_its_size_and_scaled) {
  RelayProcess relay("node_id = \"snap\";\n", "snapshot-size");
  auto capture = start_capture(ingest_url(relay, "cam1"));
  relay.wait_live("cam1");
  std::this_thread::sleep_for(1500ms);  // a keyframe with pictures after it

  const HttpResponse full = http_get(relay.viewer_port(), "/live/cam1.jpg");
  BOOST_TEST_REQUIRE(full.status == 200, full.status << " " << full.body.substr(0, 200));
  BOOST_TEST(full.headers.count("content-type") == 1);
  if (full.headers.count("content-type")) BOOST_TEST(full.headers.at("content-type") == "image/jpeg");
  const Picture p = decode_jpeg(full.body);
  BOOST_TEST_MESSAGE("/live/cam1.jpg: " << full.body.size() << " bytes, " << p.width << "x" << p.height << " " << p.error);
  BOOST_TEST(p.error.empty(), p.error);
  BOOST_TEST(p.width == 640);
  BOOST_TEST(p.height == 480);

  const HttpResponse small = http_get(relay.viewer_port(), "/live/cam1.jpg?w=320");
  BOOST_TEST_REQUIRE(small.status == 200, small.status << " " << small.body.substr(0, 200));
  const Picture q = decode_jpeg(small.body);
  BOOST_TEST_MESSAGE("/live/cam1.jpg?w=320: " << small.body.size() << " bytes, " << q.width << "x" << q.height);
  BOOST_TEST(q.error.empty(), q.error);
  BOOST_TEST(q.width == 320);
  BOOST_TEST(q.height == 240);

  // Width clamped to 16..1920, aspect kept.
  const Picture tiny = decode_jpeg(http_get(relay.viewer_port(), "/live/cam1.jpg?w=2").body);
  BOOST_TEST(tiny.width == 16);
  BOOST_TEST(tiny.height == 12);
  const Picture huge = decode_jpeg(http_get(relay.viewer_port(), "/live/cam1.jpg?w=99999").body);
  BOOST_TEST(huge.width == 1920);
  BOOST_TEST(huge.height == 1440);

  // 404s say which.
  const HttpResponse unknown = http_get(relay.viewer_port(), "/live/nosuch.jpg");
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(unknown.body.find("no such stream") != std::string::npos, unknown.body);
  WsClient waiting(relay.viewer_port(), "/live/ghost");  // a stream with a waiting viewer and no publisher
  BOOST_TEST_REQUIRE(waiting.connect(), waiting.error());
  std::this_thread::sleep_for(200ms);
  const HttpResponse ghost = http_get(relay.viewer_port(), "/live/ghost.jpg");
  BOOST_TEST(ghost.status == 404);
  BOOST_TEST(ghost.body.find("no keyframe") != std::string::npos, ghost.body);
  BOOST_TEST(http_get(relay.viewer_port(), "/live/bad%20name.jpg").status == 404);
}

BOOST_AUTO_TEST_CASE(two_hundred_requests_at_once_while_a_viewer_keeps_its_pictures) {
  RelayProcess relay("node_id = \"snap\";\n", "snapshot-load");
  auto capture = start_capture(ingest_url(relay, "cam1"));
  relay.wait_live("cam1");
  std::this_thread::sleep_for(1500ms);
  const double decodes0 = counter(relay, "snapshot_decodes");
  const double requests0 = counter(relay, "snapshot_requests");
  const double keyframes0 = keyframes(relay, "cam1");

  WsClient viewer(relay.viewer_port(), "/live/cam1");
  BOOST_TEST_REQUIRE(viewer.connect(), viewer.error());
  std::atomic<bool> viewing{true};
  double viewer_secs = 0;
  std::thread viewer_thread([&] { viewer_secs = collect(viewer, 3000, 7000); viewing = false; });
  std::this_thread::sleep_for(1000ms);

  // Four rounds of 50 requests, each round's requests at once (200 in all, 50 threads each time).
  constexpr int kRounds = 4, kPerRound = 50;
  std::atomic<int> ok{0}, decodable{0}, other{0};
  std::vector<int> statuses;
  std::mutex mu;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kPerRound; ++i) {
      threads.emplace_back([&, i] {
        const HttpResponse r = http_get(relay.viewer_port(), i % 2 ? "/live/cam1.jpg?w=320" : "/live/cam1.jpg", 10000);
        if (r.status == 200) {
          ++ok;
          if (i < 4 && decode_jpeg(r.body).error.empty()) ++decodable;
        } else {
          ++other;
          std::lock_guard<std::mutex> lock(mu);
          statuses.push_back(r.status);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    std::this_thread::sleep_for(1000ms);
  }
  viewer_thread.join();
  const double decodes = counter(relay, "snapshot_decodes") - decodes0;
  const double requests = counter(relay, "snapshot_requests") - requests0;
  const double kf = keyframes(relay, "cam1") - keyframes0;
  const DecodeResult r = decode_ts(viewer.data());
  BOOST_TEST_MESSAGE(ok << " of " << kRounds * kPerRound << " snapshot requests answered 200 (" << other
                        << " not); " << decodes << " decodes for " << kf << " keyframes; viewer: " << r.frames_decoded
                        << " pictures in " << viewer_secs << " s; " << r.summary());
  BOOST_TEST(ok == kRounds * kPerRound);
  BOOST_TEST(decodable == 4 * kRounds);
  BOOST_TEST(requests == kRounds * kPerRound);
  // One decode per keyframe at most (each round falls in one GOP: one decode per round, two widths).
  BOOST_TEST(decodes <= kf + 1);
  BOOST_TEST(decodes <= kRounds);
  BOOST_TEST(r.frames_decoded >= 0.9 * 25 * viewer_secs, r.frames_decoded << " pictures in " << viewer_secs << " s");
  BOOST_TEST(r.errors == 0, r.error_text);
  BOOST_TEST(relay.proc().running());
}

BOOST_AUTO_TEST_CASE(queue_is_bounded_and_closed_requests_are_forgotten) {
  // One waiting request per stream: different widths cannot share a job, so most of them get 503.
  RelayProcess relay("snapshot = { max_waiting = 1; };\n", "snapshot-queue");
  auto capture = start_capture(ingest_url(relay, "cam1"));
  relay.wait_live("cam1");
  std::this_thread::sleep_for(1500ms);

  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      const HttpResponse r = http_get(relay.viewer_port(), "/live/cam1.jpg?w=" + std::to_string(100 + i), 10000);
      (r.status == 200 ? ok : r.status == 503 ? refused : other)++;
    });
  }
  for (std::thread& t : threads) t.join();
  BOOST_TEST_MESSAGE("40 widths at once with max_waiting = 1: " << ok << " x 200, " << refused << " x 503, " << other << " other");
  BOOST_TEST(other == 0);
  BOOST_TEST(ok >= 1);
  BOOST_TEST(refused >= 1);
  BOOST_TEST(counter(relay, "snapshot_refused") == refused.load());

  // Requests whose connections close before their answer (reset at once): nothing may touch them later.
  for (int round = 0; round < 5; ++round) {
    std::vector<TcpSocket> socks;
    for (int i = 0; i < 20; ++i) {
      TcpSocket s = TcpSocket::connect_loopback(relay.viewer_port(), 2000);
      s.write_all("GET /live/cam1.jpg?w=" + std::to_string(200 + round * 20 + i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
      socks.push_back(std::move(s));
    }
    for (TcpSocket& s : socks) {  // reset (RST), not a polite close
      linger l{1, 0};
      setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      s.close();
    }
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(500ms);
  BOOST_TEST_REQUIRE(relay.proc().running(), "relay died; log: " << relay.proc().log_path());
  const HttpResponse after = http_get(relay.viewer_port(), "/live/cam1.jpg");
  BOOST_TEST(after.status == 200);
  BOOST_TEST(decode_jpeg(after.body).width == 640);
}
