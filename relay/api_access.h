// Who may read the monitoring API, the metrics and the dashboard page: everybody (the default),
// or, per relay.conf `api = { allow = [ CIDR… ]; token = "…"; }`, only peers inside `allow`
// and/or requests that carry the token (`Authorization: Bearer TOKEN` or `?token=TOKEN`). Every
// condition that is configured must hold. Read-only either way: the viewer listener serves GET
// only (http_admission.h). The one place of the routing that decides it: api_access_filter().
#pragma once
#include <libwebsockets.h>

#include <string>

#include "relay_config.h"

namespace mpegcast::relay {

/// True for the paths the rule covers: /api/…, /metrics, and the dashboard page (/, /index.html).
/// Not /healthz (load balancers), not the player, the streams or their snapshots.
bool api_access_covers(const std::string& path);

/// LWS_CALLBACK_FILTER_HTTP_CONNECTION hook of the viewer listener: for a covered path that the
/// rule refuses, writes 403 (address outside `allow`) or 401 (token missing or wrong, with
/// `WWW-Authenticate: Bearer`), logs one line per peer (rate-limited; never the token) and returns
/// true: the caller returns non-zero to close. False: go on.
bool api_access_filter(lws* wsi, const std::string& path);

}  // namespace mpegcast::relay
