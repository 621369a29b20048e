// mpegcast-relay: takes live MPEG-TS in from publishers and fans it out to viewers.
#include <libwebsockets.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "av_log_bridge.h"
#include "config_file.h"
#include "log.h"
#include "relay_config.h"
#include "relay_server.h"
#include "url.h"
#include "version.h"

using namespace mpegcast;

int main(int argc, char** argv) {
  CLI::App app{
      "mpegcast-relay: takes live MPEG-TS in from publishers (HTTP POST on the ingest listener) and fans it out\n"
      "to viewers: browsers over WebSocket (ws://HOST:PORT/live/STREAM), players over HTTP-TS\n"
      "(http://HOST:PORT/live/STREAM.ts), with the web player at http://HOST:PORT/player.html?stream=STREAM.",
      "mpegcast-relay"};
  std::string config_path, listen, ingest_listen, web_root;
  bool check_config = false, version = false;
  app.add_option("-c,--config", config_path, "config file (libconfig; see /etc/mpegcast/relay.conf)");
  app.add_option("--listen", listen, "viewer listener [ADDR:]PORT (default 0.0.0.0:8080)");
  app.add_option("--ingest-listen", ingest_listen, "publisher listener [ADDR:]PORT (default 127.0.0.1:8081)");
  app.add_option("--web-root", web_root, "folder with the web player (default " MPEGCAST_DEFAULT_WEB_ROOT ")");
  app.add_flag("--check-config", check_config, "validate the config and exit (status 0 ok, 2 error)");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfigError;
  }
  if (version) {
    std::printf("mpegcast-relay %s (libwebsockets %s)\n", kVersion, lws_get_library_version());
    return 0;
  }

  relay::RelayConfig config;
  try {
    ConfigFile file = config_path.empty() ? ConfigFile() : ConfigFile(config_path);
    config = relay::load_relay_config(file);
    if (!listen.empty()) {
      auto a = parse_listen_address(listen, config.listen.host);
      if (!a) throw ConfigError("--listen: \"" + listen + "\" is not [ADDR:]PORT");
      config.listen = *a;
    }
    if (!ingest_listen.empty()) {
      auto a = parse_listen_address(ingest_listen, config.ingest_listen.host);
      if (!a) throw ConfigError("--ingest-listen: \"" + ingest_listen + "\" is not [ADDR:]PORT");
      config.ingest_listen = *a;
    }
    if (!web_root.empty()) config.web_root = web_root;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "<3>%s\n", e.what());
    return kExitConfigError;
  }
  if (check_config) {
    std::printf("%s: ok\n", config_path.empty() ? "(defaults)" : config_path.c_str());
    return 0;
  }
  LogLevel level = LogLevel::info;
  parse_log_level(config.log_level.c_str(), level);
  set_log_level(level);
  // node_id "" = the host name plus "-<instance>" (relay_server.cpp). Outside systemd the instance
  // is the config file's name, as mpegcast-relay@NAME passes it for /etc/mpegcast/NAME.conf: else
  // relays started by hand on one node (topology 2's origin.conf, edge1.conf) share one id, and the
  // origin refuses the instances' pulls as a loop (508).
  if (!std::getenv("MPEGCAST_INSTANCE") && !config_path.empty()) {
    ::setenv("MPEGCAST_INSTANCE", std::filesystem::path(config_path).stem().c_str(), 0);
  }
  install_av_log_bridge(level);  // udp:// and srt:// push links log through libavformat
  return relay::run_relay(std::move(config));
}
