#include "snapshot_request.h"

namespace mpegcast::relay {

SnapshotRequest::SnapshotRequest(lws* wsi, SnapshotService& service) : wsi_(wsi), service_(service) {
  lws_set_timeout(wsi_, PENDING_TIMEOUT_HTTP_CONTENT, kTimeoutS);
}

SnapshotRequest::~SnapshotRequest() { service_.forget(this); }

void SnapshotRequest::snapshot_done(const SnapshotAnswer& answer) {
  answer_ = answer;
  lws_callback_on_writable(wsi_);
}

std::optional<SnapshotAnswer> SnapshotRequest::take_answer() {
  std::optional<SnapshotAnswer> a;
  a.swap(answer_);
  return a;
}

}  // namespace mpegcast::relay
