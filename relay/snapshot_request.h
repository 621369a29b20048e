// One HTTP request for GET /live/<stream>.jpg that waits for the snapshot worker: it lives in the
// viewer protocol's per-session storage (PssSlot), is queued at the SnapshotService, and when its
// answer arrives (service thread, from the worker's wake-up) asks lws for a writable callback,
// where viewer_egress writes the response. A connection that closes first is ended by
// session_ends() like any session: the destructor takes the request out of the service's queue,
// so the service never answers a request whose storage lws has freed.
#pragma once
#include <libwebsockets.h>

#include <optional>

#include "snapshot_service.h"

namespace mpegcast::relay {

class SnapshotRequest final : public SnapshotWaiter {
 public:
  /// How long a request may wait for the worker before lws closes the connection.
  static constexpr int kTimeoutS = 15;

  SnapshotRequest(lws* wsi, SnapshotService& service);
  ~SnapshotRequest() override;
  SnapshotRequest(const SnapshotRequest&) = delete;
  SnapshotRequest& operator=(const SnapshotRequest&) = delete;

  // SnapshotWaiter
  void snapshot_done(const SnapshotAnswer& answer) override;

  /// The answer once it arrived (then the request is no longer queued), nullopt while waiting.
  std::optional<SnapshotAnswer> take_answer();

 private:
  lws* wsi_;
  SnapshotService& service_;
  std::optional<SnapshotAnswer> answer_;
};

}  // namespace mpegcast::relay
