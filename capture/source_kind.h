// The kinds of video source: one table row each, with its capture.conf name, its --input SPEC
// prefixes, whether it is live or paced, and how libavformat opens it. A new kind is a new row.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "capture_config.h"
#include "ff_io.h"

namespace mpegcast::capture {

/// live: frames arrive in real time and are taken as they come (a camera, a network stream, a
/// FIFO); paced: frames can be read faster than real time (a file, a lavfi graph) and are
/// released at their timestamps.
enum class Timing { live, paced };

/// What avformat_open_input needs for one source, filled by its row.
struct OpenRequest {
  const char* demuxer = nullptr;  // av_find_input_format name; nullptr: probe the input
  std::string url;                // what to open
  Dict options;                   // demuxer and protocol options
  int format_flags = 0;           // AVFMT_FLAG_* for the AVFormatContext
  bool find_stream_info = true;   // probe before reading (v4l2: no, it would read frames)
  bool newest_frame_only = false; // device queues whole pictures: skip to the newest queued one
  bool finite = false;            // its end is the end (a file, a graph, stdin), not a loss
  /// A non-blocking FIFO/stdin descriptor `url` reads ("pipe:N"): the source waits until it is
  /// readable (a writer came) and closes it (unless it is stdin). -1: none.
  int fd = -1;
};

/// One row of the source table.
struct SourceKind {
  std::string_view name;                     // capture.conf `input.source`, e.g. "v4l2"
  std::array<std::string_view, 2> prefixes;  // --input SPEC prefixes ("v4l2:") or URL schemes ("rtsp://")
  std::string_view spec_help;                // "v4l2:DEVICE", for messages
  std::string InputConfig::*location;        // the key naming what to open (device, graph, path, url)
  const char* location_key;                  // its name in capture.conf
  Timing timing;
  bool loops;  // honours input.loop: rewinds at its end
  void (*open)(const InputConfig& in, OpenRequest& req);
};

/// `path` names a FIFO, a character device that is not a V4L2 camera, or "-" (stdin): a live
/// pipe, not a file to pace.
bool is_pipe_path(const std::string& path);

/// The row called `name` ("v4l2", …), or nullptr ("auto" has none).
const SourceKind* find_source_kind(std::string_view name);
/// The row of a --input SPEC and the location in it (after "v4l2:"; a URL row keeps the whole
/// URL), or nullptr when no row's prefix starts `spec`.
const SourceKind* source_kind_for_spec(std::string_view spec, std::string& location);
/// The names of every row, in table order.
std::vector<std::string> source_kind_names();
/// "v4l2:DEVICE, lavfi:GRAPH, …": every row's SPEC form.
std::string source_spec_forms();

}  // namespace mpegcast::capture
