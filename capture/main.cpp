// mpegcast-capture: camera / test pattern / file → MPEG-1 in MPEG-TS → relays.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
}

#include "av_log_bridge.h"
#include "av_output_link.h"
#include "capture_config.h"
#include "clock.h"
#include "config_file.h"
#include "demand.h"
#include "devices.h"
#include "log.h"
#include "pipeline.h"
#include "status.h"
#include "url.h"
#include "version.h"

namespace mpegcast::capture {
namespace {

std::string lib_version(const char* name, unsigned v) {
  return std::string(name) + " " + std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) +
         "." + std::to_string(AV_VERSION_MICRO(v));
}

void print_version() {
  std::printf("mpegcast-capture %s\n", kVersion);
  std::printf("%s, %s, %s, %s, %s (FFmpeg %s)\n", lib_version("libavdevice", avdevice_version()).c_str(),
              lib_version("libavformat", avformat_version()).c_str(), lib_version("libavcodec", avcodec_version()).c_str(),
              lib_version("libswscale", swscale_version()).c_str(), lib_version("libavutil", avutil_version()).c_str(),
              av_version_info());
}

int list_devices() {
  std::fputs(format_device_list(list_video_devices()).c_str(), stdout);
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Captures live video (V4L2 camera, network camera, FIFO, lavfi test pattern or a looped file), encodes\n"
      "it as MPEG-1 in an MPEG transport stream and pushes it to one or more targets (e.g. mpegcast-relay's\n"
      "ingest). While the source is lost, a \"NO SIGNAL\" slate keeps the stream going.",
      "mpegcast-capture"};
  std::string config_path, input_spec;
  std::vector<std::string> target_urls;
  bool check_config = false, show_devices = false, show_version = false, on_demand = false;
  app.add_option("-c,--config", config_path, "Config file (libconfig; see conf/capture.conf). Without it every key has its default.")
      ->type_name("FILE");
  app.add_option("--input", input_spec,
                 "Source, overriding the file: v4l2:/dev/video0 | lavfi:testsrc2=size=640x480:rate=25 | file:PATH | "
                 "pipe:FIFO | pipe:- (stdin) | rtsp://[USER:PASS@]HOST/PATH | http://… (MJPEG or TS) | srt://… | udp://…")
      ->type_name("SPEC");
  app.add_option("--target", target_urls,
                 "Output URL, repeatable, replacing the file's targets: http://HOST:8081/publish/STREAM[?secret=S] | "
                 "tcp://HOST:PORT | udp://HOST:PORT | srt://HOST:PORT")
      ->type_name("URL");
  app.add_flag("--on-demand", on_demand,
               "Encode only while someone watches: ask the relays' API (demand_urls; by default each http target's "
               "relay on port 8080) and pause source, encoder and targets demand_linger_s after the last viewer left");
  app.add_flag("--check-config", check_config, "Validate the config and the command line, print \"ok\", exit 0 (2 on error)");
  app.add_flag("--list-devices", show_devices,
               "List the V4L2 devices (/dev/video*) with their formats, sizes and frame rates, and exit");
  app.add_flag("--version", show_version, "Print the version and the libav* versions and exit");
  app.footer(
      "Defaults: input /dev/video0 if it exists, else lavfi:testsrc2=size=640x480:rate=25; target\n"
      "http://127.0.0.1:8081/publish/cam1. Exit status: 0 ok, 1 runtime failure, 2 bad config or command line.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitConfigError;
  }
  if (show_version) {
    print_version();
    return 0;
  }
  if (show_devices) return list_devices();

  CaptureConfig cfg;
  try {
    ConfigFile file = config_path.empty() ? ConfigFile() : ConfigFile(config_path);
    cfg = load_capture_config(file);
    if (!input_spec.empty()) apply_input_spec(cfg.input, input_spec);
    if (!target_urls.empty()) {
      cfg.targets.clear();
      for (const auto& url : target_urls) {
        const std::string bad = check_target_url(url);
        if (!bad.empty()) throw ConfigError("--target: " + bad);
        TargetConfig t = cfg.target_defaults;
        t.url = url;
        cfg.targets.push_back(t);
      }
    }
    if (cfg.targets.empty()) {
      TargetConfig t = cfg.target_defaults;
      t.url = kDefaultTarget;
      cfg.targets.push_back(t);
    }
    if (on_demand) cfg.demand.on_demand = true;
    resolve_demand_urls(cfg);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return kExitConfigError;
  }
  if (check_config) {
    std::printf("ok\n");
    return 0;
  }

  set_log_level(cfg.log_level);
  install_av_log_bridge(cfg.log_level);
  avdevice_register_all();
  avformat_network_init();
  LOG_INFO("mpegcast-capture %s starting (%s)", kVersion, config_path.empty() ? "no config file" : config_path.c_str());
  LOG_INFO("%s", resolve_auto_input(cfg.input).c_str());

  // Signals are taken with sigtimedwait on this thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<AvOutputLink>> targets;
  std::vector<AvOutputLink*> target_ptrs;
  for (const auto& t : cfg.targets) {
    AvOutputConfig out = t;
    out.user_agent = "mpegcast-capture";
    targets.push_back(std::make_unique<AvOutputLink>(out, "target " + redact_url(t.url)));
    target_ptrs.push_back(targets.back().get());
  }
  auto pipeline = std::make_unique<Pipeline>(cfg, target_ptrs);
  try {
    pipeline->open();
  } catch (const std::exception& e) {
    LOG_ERR("%s", e.what());
    return 1;
  }
  // On demand: everything starts paused; the first answer of the relays decides.
  auto set_encoding = [&](bool encode) {
    if (encode) {
      for (auto& t : targets) t->set_active(true);
      pipeline->set_paused(false);
    } else {
      pipeline->set_paused(true);
      for (auto& t : targets) t->set_active(false);
    }
  };
  std::unique_ptr<DemandWatcher> demand;
  if (cfg.demand.on_demand) {
    set_encoding(false);
    demand = std::make_unique<DemandWatcher>(cfg.demand, set_encoding);
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    LOG_INFO("target %s: queue %lld ms / %lld bytes", targets[i]->url_for_log().c_str(),
             static_cast<long long>(cfg.targets[i].queue_ms), static_cast<long long>(cfg.targets[i].queue_bytes));
    targets[i]->start();
  }
  pipeline->start();
  if (demand) demand->start();

  uint64_t watchdog_us = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0 && watchdog_us > 0;
  int64_t next_watchdog_ms = now_ms();
  StatusReporter status(pipeline->counters());
  int64_t next_status_ms = now_ms() + cfg.status_interval_s * 1000;
  bool ready = false;
  int exit_code = 0;
  while (true) {
    timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) {
      LOG_NOTICE("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (pipeline->finished()) {
      exit_code = pipeline->exit_code();
      break;
    }
    const int64_t now = now_ms();
    if (!ready && (pipeline->encoding() || (demand && demand->decided()))) {
      ready = true;
      sd_notify(0, "READY=1");
      LOG_NOTICE(pipeline->encoding() ? "capturing and encoding" : "ready (on demand)");
    }
    if (watchdog && now >= next_watchdog_ms) {
      // Only while the capture thread shows signs of life: a hung thread gets us restarted.
      if (now - pipeline->heartbeat_ms() < static_cast<int64_t>(watchdog_us / 1000)) sd_notify(0, "WATCHDOG=1");
      next_watchdog_ms = now + static_cast<int64_t>(watchdog_us / 2000);
    }
    if (cfg.status_interval_s > 0 && now >= next_status_ms) {
      std::vector<AvOutputStatus> ts;
      for (auto& t : targets) ts.push_back(t->status());
      std::string line = status.line(now, pipeline->source_status(), ts);
      std::string notify = status.notify_text();
      if (demand) {
        const std::string d = demand->describe();
        line += "; on demand: " + d;
        notify = d + "; " + notify;
      }
      LOG_INFO("%s", line.c_str());
      sd_notifyf(0, "STATUS=%s", notify.c_str());
      next_status_ms = now + cfg.status_interval_s * 1000;
    }
  }
  sd_notify(0, "STOPPING=1");
  if (demand) demand->stop();
  pipeline->stop();  // flushes the encoder and muxer into the queues
  for (auto& t : targets) t->begin_stop(1000);
  for (auto& t : targets) t->join();
  pipeline.reset();
  LOG_INFO("stopped");
  return exit_code;
}

}  // namespace
}  // namespace mpegcast::capture

int main(int argc, char** argv) { return mpegcast::capture::run(argc, argv); }
