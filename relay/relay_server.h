// The relay process: one libwebsockets context, two vhosts (viewers and ingest), one service
// thread, a 1 s housekeeping timer, clean shutdown on SIGINT/SIGTERM, sd_notify.
#pragma once
#include "relay_config.h"

namespace mpegcast::relay {

/// Runs the relay until SIGINT/SIGTERM. Returns the process exit status (0 on a clean stop,
/// 1 when a listener cannot be opened: the log line names the address).
int run_relay(RelayConfig config);

}  // namespace mpegcast::relay
