#include "source_kind.h"

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
}

void open_file(const InputConfig& in, OpenRequest& req) { req.url = in.path; }

constexpr SourceKind kKinds[] = {
    {"v4l2", {"v4l2:", ""}, "v4l2:DEVICE", &InputConfig::device, "device", Timing::live, false, &open_v4l2},
    {"lavfi", {"lavfi:", ""}, "lavfi:GRAPH", &InputConfig::graph, "graph", Timing::paced, false, &open_lavfi},
    {"file", {"file:", ""}, "file:PATH", &InputConfig::path, "path", Timing::paced, true, &open_file},
};

bool is_scheme(std::string_view prefix) { return prefix.size() > 3 && prefix.substr(prefix.size() - 3) == "://"; }

}  // namespace

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
