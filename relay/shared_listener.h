// The viewer listener when several relay instances share its port (relay.conf reuse_port,
// topology 2). lws 4.1 sets SO_REUSEPORT only when it runs more than one service thread, so the
// relay opens this listening socket itself (SO_REUSEPORT, the kernel spreads connections over the
// instances), lets lws watch it as a raw file descriptor on whichever loop runs, accepts in the
// readable callback and adopts each connection into the listener-less viewer vhost, after the same
// connection limits the other listeners apply at accept.
#pragma once
#include <memory>

#include "url.h"

struct lws_vhost;
struct lws_protocols;

namespace mpegcast::relay {

struct RelayState;
class SharedListener;

struct SharedListenerDeleter {
  void operator()(SharedListener* l) const;
};
using SharedListenerPtr = std::unique_ptr<SharedListener, SharedListenerDeleter>;

/// Listens on `address` with SO_REUSEPORT and adopts accepted connections into `viewers`.
/// `accept_vhost` is a vhost whose protocols include shared_listener_protocol(). Returns nullptr
/// after one log line when the address cannot be bound. The result must be destroyed before the
/// context.
SharedListenerPtr open_shared_listener(RelayState& relay, const ListenAddress& address, lws_vhost* accept_vhost,
                                       lws_vhost* viewers);

/// The port the listener is bound to (after binding port 0).
int shared_listener_port(const SharedListener& l);

/// The protocol that serves the listening socket ("mpegcast-accept").
const lws_protocols& shared_listener_protocol();

}  // namespace mpegcast::relay
