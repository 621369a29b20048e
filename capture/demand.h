// "Encode only when watched": the capture agent asks the relays it pushes to whether anyone wants
// its stream, and pauses the pipeline and its targets while nobody does.
//
// The signal: each relay's read-only API, GET /api/v1/streams/<name> (docs/api.md), whose
// `viewers` counts the stream's subscribers — browsers, HTTP-TS players, push links, and the
// pull links of downstream relays, which subscribe only while they have viewers of their own (or
// are static) — so demand travels up a tree of relays without a protocol of its own. A relay that
// does not know the stream (404) has no demand for it; one that does not answer counts as demand
// (fail open: a broken API never blacks out a camera).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mpegcast::capture {

/// capture.conf: on_demand, demand_linger_s, demand_urls, demand_token, demand_poll_ms.
struct DemandConfig {
  bool on_demand = false;
  int64_t linger_s = 10;          // encoding stops this long after the last viewer left
  int64_t poll_ms = 250;          // how often each relay is asked
  std::vector<std::string> urls;  // http(s)://HOST:PORT/api/v1/streams/NAME, one per relay
  std::string token;              // the relays' api.token (sent as Authorization: Bearer), "" = none
};

/// The API URL of a target's stream on the relay's default viewer port:
/// http(s)://HOST:PORT/publish/NAME[?…] → http(s)://HOST:8080/api/v1/streams/NAME.
/// "" for a target that is not a relay's HTTP ingest.
std::string default_demand_url(const std::string& target_url);

/// `viewers` of a GET /api/v1/streams/<name> body; nullopt when the body is not such a document.
std::optional<int64_t> viewers_in_stream_json(std::string_view body);

/// The decision, apart from the network: encode or not, from a series of readings.
class DemandPolicy {
 public:
  explicit DemandPolicy(int64_t linger_ms) : linger_ms_(linger_ms) {}
  /// `viewers`: the subscribers summed over the relays, nullopt when a relay could not be asked
  /// and none reported a viewer (counts as demand). Returns whether to encode now: the first
  /// reading decides at once; afterwards demand starts encoding at once and its absence stops
  /// it after `linger_ms` without a viewer. `now_ms`: CLOCK_MONOTONIC ms.
  bool update(int64_t now_ms, std::optional<int64_t> viewers);
  bool encoding() const { return encoding_; }
  /// CLOCK_MONOTONIC ms of the last reading with demand (or of the first reading).
  int64_t last_demand_ms() const { return last_demand_ms_; }

 private:
  const int64_t linger_ms_;
  bool first_ = true;
  bool encoding_ = true;
  int64_t last_demand_ms_ = 0;
};

/// Asks each URL every poll_ms on its own thread (libavformat's HTTP client, each request
/// bounded by a deadline of max(poll_ms, 1000) ms) and calls `on_change(encode)` on that thread
/// when the decision changes, and once for the first reading. Logs each change of the decision
/// and of a relay's reachability once.
class DemandWatcher {
 public:
  DemandWatcher(DemandConfig cfg, std::function<void(bool encode)> on_change);
  ~DemandWatcher();
  DemandWatcher(const DemandWatcher&) = delete;
  DemandWatcher& operator=(const DemandWatcher&) = delete;

  void start();
  /// Stops and joins the thread (a request in progress is interrupted). Idempotent.
  void stop();

  /// For the status line: "watched (2 viewers)", "nobody watching: paused since 12:03:41",
  /// "nobody watching: pausing in 7 s", "relay not answering: encoding".
  std::string describe() const;
  /// Any thread: whether the first reading was taken.
  bool decided() const { return decided_; }

 private:
  void run();
  /// One GET; the viewers, or nullopt and `error`.
  std::optional<int64_t> ask(const std::string& url, std::string& error);
  static int interrupt_cb(void* opaque);

  const DemandConfig cfg_;
  const std::function<void(bool)> on_change_;
  DemandPolicy policy_;  // guarded by status_mu_ (updated on the thread, read by describe())
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> decided_{false};
  std::atomic<int64_t> deadline_ms_{0};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  mutable std::mutex status_mu_;
  bool unknown_ = false;
  int64_t viewers_ = 0;
  long paused_since_ = 0;  // time_t
  std::vector<std::string> errors_;  // per URL, "" while it answers
};

}  // namespace mpegcast::capture
