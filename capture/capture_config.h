// The capture agent's configuration: conf/capture.conf plus the command-line overrides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "av_output_config.h"
#include "config_file.h"
#include "demand.h"
#include "log.h"

namespace mpegcast::capture {

/// Where frames come from. `source` is "auto" or the name of a row of source_kind.h ("v4l2",
/// "lavfi", "file", …); that row says which key names what to open.
struct InputConfig {
  std::string source = "auto";
  std::string device = "/dev/video0";  // v4l2
  std::string input_format;            // v4l2: "mjpeg", "yuyv422", …; empty = driver default
  std::string video_size;              // v4l2: "640x480"; empty = driver default
  double framerate = 0;                // v4l2: frames/s asked of the driver; 0 = driver default
  int64_t frame_timeout_ms = 2000;     // no frame for this long = source lost
  int64_t open_timeout_ms = 5000;      // an open (connect, handshake, probe) that takes longer fails
  std::string graph = "testsrc2=size=640x480:rate=25";  // lavfi
  std::string path;                    // file; pipe: a FIFO ("" or "-": stdin)
  std::string url;                     // rtsp, http, srt, udp: the camera's URL (may hold credentials)
  std::string rtsp_transport = "tcp";  // rtsp: "tcp" (interleaved), "udp" or "auto" (libavformat's choice)
  int64_t analyze_ms = 500;            // network: how long to probe the stream before the first frame
  bool loop = true;                    // file: start again at the end
  std::string on_end = "exit";         // a file or lavfi graph that ends: "exit" (status 0) or "slate" (and reopen)
  int64_t reopen_initial_ms = 250;     // backoff of source reopens: first delay …
  int64_t reopen_max_ms = 5000;        // … doubling up to this
};

/// Encoder settings. 0 for width/height/framerate means "as the source".
struct OutputConfig {
  std::string codec = "mpeg1video";  // a row of video_codec.h
  int width = 0;
  int height = 0;
  double framerate = 0;
  int64_t bitrate_bps = 1000000;
  int64_t maxrate_bps = 1500000;
  int64_t bufsize_bytes = 350000;  // VBV buffer; 350000 bytes = ffmpeg's "-bufsize 2800k" (bits)
  double gop_s = 1.0;
};

/// One output URL and its queue: the shared output link's settings (url, queue_ms, queue_bytes,
/// rw_timeout_ms, reconnect_initial_ms, reconnect_max_ms, send_buffer_bytes).
using TargetConfig = AvOutputConfig;

struct CaptureConfig {
  LogLevel log_level = LogLevel::info;
  int64_t status_interval_s = 10;  // 0 = no status lines
  InputConfig input;
  OutputConfig output;
  TargetConfig target_defaults;      // target_defaults = { … }: also used for --target URLs
  std::vector<TargetConfig> targets;
  DemandConfig demand;  // on_demand, demand_linger_s, demand_urls, demand_token, demand_poll_ms
};

/// The lavfi graph used when no input is configured and /dev/video0 does not exist.
constexpr const char* kDefaultGraph = "testsrc2=size=640x480:rate=25";
/// The target used when none is configured.
constexpr const char* kDefaultTarget = "http://127.0.0.1:8081/publish/cam1";

/// Reads and validates every key of `file` (an empty ConfigFile gives all defaults). Throws
/// ConfigError (`FILE:LINE: key: what is wrong`) for an unknown key, a wrong type, an
/// out-of-range value or an unusable target URL. Does not apply the default target.
CaptureConfig load_capture_config(ConfigFile& file);

/// With on_demand and no demand_urls: one default_demand_url() per target that has one. Throws
/// ConfigError when on_demand is set and no relay to ask is known. Call after the targets are final
/// (--target applied, the default target added).
void resolve_demand_urls(CaptureConfig& c);

/// Applies `--input SPEC` (v4l2:DEVICE | lavfi:GRAPH | file:PATH | …, one form per row of
/// source_kind.h) to `in`; throws ConfigError ("--input: …") for anything else.
void apply_input_spec(InputConfig& in, const std::string& spec);

/// Returns an empty string when `url` can be used as a target (scheme://host… with a protocol
/// libavformat can write to), else what is wrong with it.
std::string check_target_url(const std::string& url);


/// Resolves source = "auto": v4l2 on `device` if that exists, otherwise lavfi with the graph;
/// and source = "file" on a FIFO or "-" to "pipe" (live: a pipe is never paced). Returns a
/// one-line description of the choice for the log.
std::string resolve_auto_input(InputConfig& in);

/// A short description of the input for logs, e.g. "lavfi:testsrc2=…" or "v4l2:/dev/video0"
/// (a URL with its secrets masked).
std::string describe_input(const InputConfig& in);

}  // namespace mpegcast::capture
