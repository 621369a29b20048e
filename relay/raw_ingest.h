// Raw MPEG-TS ingest without HTTP: TCP listeners (one connection = one publisher) and UDP
// sockets (unicast or IPv4 multicast; the sender of the datagrams is the publisher), each bound
// to one stream from relay.conf `ingest.tcp` / `ingest.udp`, with a CIDR allow-list of senders.
#pragma once
#include <memory>

#include "relay_config.h"

struct lws_protocols;
struct lws_vhost;

namespace mpegcast::relay {

/// Protocol of a TCP ingest vhost; the vhost's user pointer must be its RawIngestConfig.
const lws_protocols& tcp_ingest_protocol();
/// Protocol of UDP ingest sockets (added to the ingest vhost's protocol list).
const lws_protocols& udp_ingest_protocol();

/// One UDP ingest socket and its publisher state. Create after the context; destroy after it.
struct RelayState;
class UdpIngest;
struct UdpIngestDeleter {
  void operator()(UdpIngest* u) const;
};
using UdpIngestPtr = std::unique_ptr<UdpIngest, UdpIngestDeleter>;

/// Binds `cfg.listen` (joining `cfg.multicast_group` if set) on `vhost`. Returns nullptr, after
/// one log line naming the address, when the socket cannot be opened.
UdpIngestPtr start_udp_ingest(lws_vhost* vhost, RelayState& relay, const RawIngestConfig& cfg);

}  // namespace mpegcast::relay
