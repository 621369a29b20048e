// HTTP POST ingest on the raw ingest listener: `POST /publish/<stream>` (secret as `?secret=` or
// `Authorization: Bearer`) and JSMpeg's `POST /<secret>[/<w>/<h>]` (to the default stream).
// Requests are parsed with nodejs http-parser (it decodes chunked bodies; lws 4.1 does not),
// bodies of any length are fed to the hub as they arrive.
#pragma once

struct lws_protocols;

namespace mpegcast::relay {

/// The lws protocol (raw socket role) that serves the ingest listener.
const lws_protocols& http_ingest_protocol();

}  // namespace mpegcast::relay
