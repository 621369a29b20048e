// Host name lookups off the service thread. Debian's libwebsockets has no asynchronous DNS and
// getaddrinfo() may block for seconds, so each lookup runs on a helper thread; the result comes
// back on the service thread: the helper queues it and wakes the loop with lws_cancel_service(),
// whose LWS_CALLBACK_EVENT_WAIT_CANCELLED (sent to every protocol) calls deliver().
#pragma once
#include <functional>
#include <memory>
#include <string>

struct lws_context;

namespace mpegcast::relay {

class Resolver {
 public:
  /// `address` is numeric ("10.0.0.2", "2001:db8::1") on success; otherwise `error` says why.
  using Done = std::function<void(const std::string& address, const std::string& error)>;
  /// A lookup in flight. Dropping it cancels the callback (the helper thread finishes anyway).
  using Ticket = std::shared_ptr<void>;

  /// `context`: the loop to wake. Destroy the resolver before the context.
  explicit Resolver(lws_context* context);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Starts resolving `host` (IPv4 or IPv6, the first address getaddrinfo returns). `done` runs
  /// later on the service thread from deliver(), unless the ticket was dropped first. A host that
  /// is already a numeric address completes at the next deliver() without a thread.
  Ticket resolve(const std::string& host, Done done);

  /// Runs the callbacks of finished lookups. Service thread (EVENT_WAIT_CANCELLED).
  void deliver();

  /// True when `host` is a numeric IPv4 or IPv6 address.
  static bool is_numeric(const std::string& host);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace mpegcast::relay
