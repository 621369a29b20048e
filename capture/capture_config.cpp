#include "capture_config.h"

#include <sys/stat.h>

#include <cstring>

extern "C" {
#include <libavformat/avio.h>
#include <libavutil/parseutils.h>
}

#include "source_kind.h"
#include "url.h"
#include "video_codec.h"

namespace mpegcast::capture {
namespace {

constexpr int64_t kMaxBps = 100000000;  // 100 Mbit/s: far above what MPEG-1 is used for

void read_target_limits(ConfigSection& s, TargetConfig& t) {
  t.queue_ms = s.integer("queue_ms", t.queue_ms, 100, 60000);
  t.queue_bytes = s.integer("queue_bytes", t.queue_bytes, 65536, 1000000000);
  t.rw_timeout_ms = s.integer("rw_timeout_ms", t.rw_timeout_ms, 100, 600000);
  t.reconnect_initial_ms = s.integer("reconnect_initial_ms", t.reconnect_initial_ms, 10, 60000);
  t.reconnect_max_ms = s.integer("reconnect_max_ms", t.reconnect_max_ms, 10, 600000);
  t.send_buffer_bytes = s.integer("send_buffer_bytes", t.send_buffer_bytes, 0, 64 * 1024 * 1024);
}

InputConfig read_input(ConfigSection s) {
  InputConfig in;
  std::vector<std::string> sources = source_kind_names();
  sources.insert(sources.begin(), "auto");
  in.source = s.choice("source", in.source, sources);
  in.device = s.string("device", in.device, 1024);
  in.input_format = s.string("input_format", in.input_format, 64);
  in.video_size = s.string("video_size", in.video_size, 32);
  if (!in.video_size.empty()) {
    int w = 0, h = 0;
    if (av_parse_video_size(&w, &h, in.video_size.c_str()) < 0) {
      s.fail("video_size", "\"" + in.video_size + "\" is not a size like \"640x480\"");
    }
  }
  in.framerate = s.number("framerate", in.framerate, 0, 1000);
  in.frame_timeout_ms = s.integer("frame_timeout_ms", in.frame_timeout_ms, 100, 600000);
  in.open_timeout_ms = s.integer("open_timeout_ms", in.open_timeout_ms, 100, 600000);
  in.graph = s.string("graph", in.graph);
  in.path = s.string("path", in.path);
  in.url = s.string("url", in.url);
  if (!in.url.empty()) {
    std::string location;
    const SourceKind* kind = source_kind_for_spec(in.url, location);
    if (!kind || kind->location != &InputConfig::url) s.fail("url", "\"" + redact_url(in.url) + "\" is not an rtsp://, rtsps://, http://, https://, srt:// or udp:// URL");
    if (in.source != "auto" && in.source != kind->name) s.fail("url", "is a " + std::string(kind->name) + " URL but source = \"" + in.source + "\"");
    in.source = std::string(kind->name);  // the URL's scheme picks the row
  }
  in.rtsp_transport = s.choice("rtsp_transport", in.rtsp_transport, {"tcp", "udp", "auto"});
  in.analyze_ms = s.integer("analyze_ms", in.analyze_ms, 0, 60000);
  in.loop = s.boolean("loop", in.loop);
  in.on_end = s.choice("on_end", in.on_end, {"exit", "slate"});
  in.reopen_initial_ms = s.integer("reopen_initial_ms", in.reopen_initial_ms, 10, 60000);
  in.reopen_max_ms = s.integer("reopen_max_ms", in.reopen_max_ms, 10, 600000);
  if (const SourceKind* kind = find_source_kind(in.source); kind && (in.*kind->location).empty()) {
    s.fail(kind->location_key, "must be set when source = \"" + in.source + "\"");
  }
  s.check_unknown();
  return in;
}

OutputConfig read_output(ConfigSection s) {
  OutputConfig out;
  out.codec = s.choice("codec", out.codec, video_codec_names());
  out.width = static_cast<int>(s.integer("width", out.width, 0, 4096));
  out.height = static_cast<int>(s.integer("height", out.height, 0, 4096));
  if (out.width % 2 || out.height % 2) s.fail(out.width % 2 ? "width" : "height", "must be even (yuv420p)");
  out.framerate = s.number("framerate", out.framerate, 0, 60);
  out.bitrate_bps = s.integer("bitrate_bps", out.bitrate_bps, 10000, kMaxBps);
  out.maxrate_bps = s.integer("maxrate_bps", out.maxrate_bps, 0, kMaxBps);
  out.bufsize_bytes = s.integer("bufsize_bytes", out.bufsize_bytes, 0, 2000000);
  out.gop_s = s.number("gop_s", out.gop_s, 0.1, 60);
  if (out.maxrate_bps != 0 && out.maxrate_bps < out.bitrate_bps) {
    s.fail("maxrate_bps", "must be 0 (no limit) or at least bitrate_bps (" + std::to_string(out.bitrate_bps) + ")");
  }
  if (out.maxrate_bps != 0 && out.bufsize_bytes == 0) s.fail("bufsize_bytes", "must be set when maxrate_bps is");
  s.check_unknown();
  return out;
}

}  // namespace

std::string check_target_url(const std::string& url) {
  auto u = parse_url(url);
  if (!u) return "\"" + redact_url(url) + "\" is not a URL like http://HOST:PORT/publish/STREAM";
  if (!avio_find_protocol_name(url.c_str())) return "libavformat has no protocol for \"" + u->scheme + "://\"";
  if (u->scheme == "file" || u->scheme == "pipe") return "\"" + u->scheme + "://\" is not a network target";
  return {};
}

CaptureConfig load_capture_config(ConfigFile& file) {
  CaptureConfig c;
  ConfigSection root = file.root();
  const std::string level = root.choice("log_level", "info", {"err", "warning", "notice", "info", "debug"});
  parse_log_level(level.c_str(), c.log_level);
  c.status_interval_s = root.integer("status_interval_s", c.status_interval_s, 0, 3600);
  c.input = read_input(root.group("input"));
  c.output = read_output(root.group("output"));

  TargetConfig defaults;
  {
    ConfigSection d = root.group("target_defaults");
    read_target_limits(d, defaults);
    d.check_unknown();
  }
  c.target_defaults = defaults;
  if (root.has("targets")) {
    std::vector<std::string> urls;
    std::vector<ConfigSection> groups;
    bool as_strings = true;
    try {
      urls = root.strings("targets");
    } catch (const ConfigError&) {
      as_strings = false;
    }
    if (as_strings) {
      for (const auto& url : urls) {
        const std::string bad = check_target_url(url);
        if (!bad.empty()) root.fail("targets", bad);
        TargetConfig t = defaults;
        t.url = url;
        c.targets.push_back(t);
      }
    } else {
      try {
        groups = root.groups("targets");
      } catch (const ConfigError&) {
        root.fail("targets", "expected a list of URL strings or a list of groups { url = \"…\"; … }");
      }
      for (auto& g : groups) {
        TargetConfig t = defaults;
        t.url = g.string("url", "");
        if (t.url.empty()) g.fail("url", "missing: every target needs a url");
        const std::string bad = check_target_url(t.url);
        if (!bad.empty()) g.fail("url", bad);
        read_target_limits(g, t);
        g.check_unknown();
        c.targets.push_back(t);
      }
    }
  }
  c.demand.on_demand = root.boolean("on_demand", c.demand.on_demand);
  c.demand.linger_s = root.integer("demand_linger_s", c.demand.linger_s, 0, 86400);
  c.demand.poll_ms = root.integer("demand_poll_ms", c.demand.poll_ms, 50, 10000);
  c.demand.token = root.string("demand_token", c.demand.token, 256);
  c.demand.urls = root.strings("demand_urls");
  for (const auto& url : c.demand.urls) {
    const auto u = parse_url(url);
    if (!u || (u->scheme != "http" && u->scheme != "https")) {
      root.fail("demand_urls", "\"" + redact_url(url) + "\" is not an http(s):// URL of a relay's /api/v1/streams/NAME");
    }
  }
  root.check_unknown();
  return c;
}

void resolve_demand_urls(CaptureConfig& c) {
  if (!c.demand.on_demand || !c.demand.urls.empty()) return;
  for (const auto& t : c.targets) {
    std::string url = default_demand_url(t.url);
    if (!url.empty()) c.demand.urls.push_back(std::move(url));
  }
  if (c.demand.urls.empty()) {
    throw ConfigError("on_demand: no target is a relay's http://HOST:PORT/publish/NAME: set demand_urls to the "
                      "relays' http://HOST:PORT/api/v1/streams/NAME");
  }
}

void apply_input_spec(InputConfig& in, const std::string& spec) {
  std::string location;
  const SourceKind* kind = source_kind_for_spec(spec, location);
  if (!kind) throw ConfigError("--input: \"" + redact_url(spec) + "\" is not one of " + source_spec_forms());
  in.source = std::string(kind->name);
  in.*kind->location = location;
}

std::string resolve_auto_input(InputConfig& in) {
  if (in.source == "file" && is_pipe_path(in.path)) {
    in.source = "pipe";
    return "input: " + (in.path == "-" ? std::string("stdin") : in.path) + " is a pipe: read live, not paced (" +
           describe_input(in) + ")";
  }
  if (in.source != "auto") return "input: " + describe_input(in);
  struct stat st {};
  if (!in.device.empty() && ::stat(in.device.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) {
    in.source = "v4l2";
    return "input: " + in.device + " exists, using v4l2:" + in.device;
  }
  in.source = "lavfi";
  if (in.graph.empty()) in.graph = kDefaultGraph;
  return "input: no camera at " + in.device + ", using the test pattern lavfi:" + in.graph;
}

std::string describe_input(const InputConfig& in) {
  const SourceKind* kind = find_source_kind(in.source);
  if (!kind) return in.source;
  const std::string& location = in.*kind->location;
  const std::string_view prefix = kind->prefixes[0];
  if (location.rfind(prefix, 0) == 0) return redact_url(location);  // a URL row: the URL, secrets masked
  return std::string(prefix) + location;
}

}  // namespace mpegcast::capture
