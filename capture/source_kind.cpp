#include "source_kind.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include <libavformat/avformat.h>
}

namespace mpegcast::capture {
namespace {

void open_v4l2(const InputConfig& in, OpenRequest& req) {
  req.demuxer = "video4linux2";
  req.url = in.device;
  // Never block forever on a stalled device, and keep its kernel queue short (DESIGN.md, traps).
  req.format_flags |= AVFMT_FLAG_NONBLOCK | AVFMT_FLAG_NOBUFFER;
  req.find_stream_info = false;
  req.newest_frame_only = true;
  if (!in.input_format.empty()) req.options.set("input_format", in.input_format.c_str());
  if (!in.video_size.empty()) req.options.set("video_size", in.video_size.c_str());
  if (in.framerate > 0) req.options.set("framerate", std::to_string(in.framerate).c_str());
}

void open_lavfi(const InputConfig& in, OpenRequest& req) {
  req.demuxer = "lavfi";
  req.url = in.graph;
  req.finite = true;
}

void open_file(const InputConfig& in, OpenRequest& req) {
  req.url = in.path;
  req.finite = true;
}

/// A FIFO or stdin, opened non-blocking so that libavformat's reads wait in its retry loop,
/// which asks the interrupt callback, instead of in read(2), which nothing interrupts.
void open_pipe(const InputConfig& in, OpenRequest& req) {
  const bool is_stdin = in.path.empty() || in.path == "-";
  int fd = 0;
  if (is_stdin) {
    ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);
    req.finite = true;  // stdin does not come back
  } else {
    fd = ::open(in.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {  // libavformat's file protocol fails the same way and says why
      req.url = in.path;
      return;
    }
  }
  req.fd = fd;
  req.url = "pipe:" + std::to_string(fd);
}

/// Every network camera: latency first. No input buffering, a short probe, and socket timeouts
/// that match frame_timeout_ms (the interrupt callback is the backstop for all of them).
void network_options(const InputConfig& in, OpenRequest& req) {
  req.url = in.url;
  req.format_flags |= AVFMT_FLAG_NOBUFFER;  // fflags nobuffer: frames read while probing are not queued
  req.options.set("probesize", static_cast<int64_t>(500000));
  req.options.set("analyzeduration", in.analyze_ms * 1000);
  req.options.set("rw_timeout", in.frame_timeout_ms * 1000);  // µs
}

void open_rtsp(const InputConfig& in, OpenRequest& req) {
  network_options(in, req);
  req.demuxer = "rtsp";
  if (in.rtsp_transport != "auto") req.options.set("rtsp_transport", in.rtsp_transport.c_str());
  req.options.set("timeout", in.frame_timeout_ms * 1000);  // socket I/O, µs
}

void open_http(const InputConfig& in, OpenRequest& req) { network_options(in, req); }  // MJPEG or TS: probed

void open_srt(const InputConfig& in, OpenRequest& req) {
  network_options(in, req);
  req.options.set("timeout", in.frame_timeout_ms * 1000);  // µs
  req.options.set("connect_timeout", in.open_timeout_ms);  // ms
}

void open_udp(const InputConfig& in, OpenRequest& req) {
  network_options(in, req);
  req.options.set("timeout", in.frame_timeout_ms * 1000);  // µs
  req.options.set("overrun_nonfatal", 1);
}

// clang-format off
constexpr SourceKind kKinds[] = {
  // name     prefixes                   spec                     location              key       timing         loops  open
  {"v4l2",  {"v4l2:", ""},             "v4l2:DEVICE",           &InputConfig::device, "device", Timing::live,  false, &open_v4l2},
  {"lavfi", {"lavfi:", ""},            "lavfi:GRAPH",           &InputConfig::graph,  "graph",  Timing::paced, false, &open_lavfi},
  {"file",  {"file:", ""},             "file:PATH",             &InputConfig::path,   "path",   Timing::paced, true,  &open_file},
  {"pipe",  {"pipe:", ""},             "pipe:FIFO (pipe:- = stdin)", &InputConfig::path, "path", Timing::live,  false, &open_pipe},
  {"rtsp",  {"rtsp://", "rtsps://"},   "rtsp://…",              &InputConfig::url,    "url",    Timing::live,  false, &open_rtsp},
  {"http",  {"http://", "https://"},   "http://… (MJPEG or TS)", &InputConfig::url,   "url",    Timing::live,  false, &open_http},
  {"srt",   {"srt://", ""},            "srt://…",               &InputConfig::url,    "url",    Timing::live,  false, &open_srt},
  {"udp",   {"udp://", ""},            "udp://…",               &InputConfig::url,    "url",    Timing::live,  false, &open_udp},
};
// clang-format on

bool is_scheme(std::string_view prefix) { return prefix.size() > 3 && prefix.substr(prefix.size() - 3) == "://"; }

}  // namespace

bool is_pipe_path(const std::string& path) {
  if (path == "-") return true;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

const SourceKind* find_source_kind(std::string_view name) {
  for (const SourceKind& k : kKinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const SourceKind* source_kind_for_spec(std::string_view spec, std::string& location) {
  for (const SourceKind& k : kKinds) {
    for (std::string_view p : k.prefixes) {
      if (p.empty() || spec.size() <= p.size() || spec.substr(0, p.size()) != p) continue;
      location = std::string(is_scheme(p) ? spec : spec.substr(p.size()));
      return &k;
    }
  }
  return nullptr;
}

std::vector<std::string> source_kind_names() {
  std::vector<std::string> names;
  for (const SourceKind& k : kKinds) names.emplace_back(k.name);
  return names;
}

std::string source_spec_forms() {
  std::string s;
  for (const SourceKind& k : kKinds) s += (s.empty() ? "" : ", ") + std::string(k.spec_help);
  return s;
}

}  // namespace mpegcast::capture
