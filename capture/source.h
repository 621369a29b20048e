// One opened video source (a row of source_kind.h: camera, lavfi graph, file, …), demuxed and
// decoded to raw frames.
#pragma once
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "capture_config.h"
#include "ff_ptr.h"
#include "source_kind.h"

namespace mpegcast::capture {

/// Opening a source failed; what() names the source (secrets masked) and the reason.
class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One opened source. Frames come out decoded, with `pts` in µs on a timeline that starts near
/// 0 and keeps increasing across file loops. Every blocking libavformat call runs under an
/// interrupt callback with a deadline (open: in.open_timeout_ms, each frame: in.frame_timeout_ms),
/// so a dead camera or server never blocks the calling thread for longer.
class Source {
 public:
  /// Opens `in` (its source must be a row of source_kind.h; resolve "auto" first). `stop`
  /// aborts a blocking open/read when it becomes true. Throws SourceError.
  Source(const InputConfig& in, const std::atomic<bool>& stop);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  /// Reads the next frame into `out`. Returns 0, AVERROR_EOF (the input ended and does not
  /// loop), AVERROR(ETIMEDOUT) (no frame for frame_timeout_ms: camera lost), AVERROR_EXIT
  /// (stop requested) or another AVERROR (read/decode failure: reopen).
  int read(AVFrame* out);
  /// From now on `stop` aborts blocking calls instead of the flag given to the constructor, which
  /// may then go away (a source opened at start-up, then handed to its reader thread). Call it
  /// before any other thread uses the source.
  void set_stop(const std::atomic<bool>& stop) { stop_ = &stop; }

  const SourceKind& kind() const { return kind_; }
  /// True for a live source (frames arrive in real time); lavfi and files are paced by the caller.
  bool live() const { return kind_.timing == Timing::live; }
  /// Its end (AVERROR_EOF) is the end of the input (file, graph, stdin), not the loss of a camera.
  bool finite() const { return finite_; }
  /// The stream's frame rate (frames/s), or 0/1 when unknown.
  AVRational frame_rate() const { return rate_; }
  int width() const;
  int height() const;
  /// For logs: "v4l2:/dev/video0", "rtsp://user:***@cam/stream", …
  const std::string& name() const { return name_; }
  /// Times a file has looped.
  int loops() const { return loops_; }
  /// Device frames skipped unread because newer ones were already queued (the pipeline was
  /// behind): keeps the kernel's buffer queue, and so the delay, short.
  uint64_t skipped() const { return skipped_; }

 private:
  int rewind();
  /// (Re)creates the decoder for the stream; returns 0 or an AVERROR.
  int open_decoder();
  /// Blocking calls from now on give up at now + `ms` (0: only on stop).
  void arm_deadline(int64_t ms);
  static int interrupt_cb(void* opaque);

  const InputConfig cfg_;
  const SourceKind& kind_;
  const std::atomic<bool>* stop_;  // never null
  std::string name_;
  std::atomic<int64_t> deadline_ms_{0};  // CLOCK_MONOTONIC ms; 0 = none
  std::atomic<bool> timed_out_{false};
  /// Waits until `fd` is readable (a FIFO's writer came), up to open_timeout_ms. Throws SourceError.
  void wait_readable(int fd);

  bool newest_frame_only_ = false;
  bool finite_ = false;
  /// A FIFO opened by the pipe row; declared before ic_ so that it is closed after it. Never
  /// closes stdin (0): libavformat's pipe protocol leaves descriptors open.
  struct OwnedFd {
    int fd = -1;
    ~OwnedFd() {
      if (fd > 0) ::close(fd);
    }
  } fd_;
  InputContextPtr ic_;
  CodecContextPtr dec_;
  const AVCodec* codec_ = nullptr;
  PacketPtr packet_;
  int stream_index_ = -1;
  AVRational time_base_{1, 1000000};
  AVRational rate_{0, 1};
  int64_t frame_us_ = 40000;
  int64_t first_pts_us_ = AV_NOPTS_VALUE;
  int64_t loop_offset_us_ = 0;
  int64_t last_pts_us_ = 0;
  int64_t synthetic_pts_us_ = 0;
  int loops_ = 0;
  bool draining_ = false;
  bool intra_only_ = false;  // every packet is a whole picture (rawvideo, mjpeg): older ones may be skipped
  PacketPtr newer_;
  uint64_t skipped_ = 0;
};

/// The row of `in.source`; throws SourceError for "auto" or an unknown name.
const SourceKind& source_kind_of(const InputConfig& in);

}  // namespace mpegcast::capture
