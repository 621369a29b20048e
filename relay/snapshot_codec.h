// Snapshot pictures: the newest keyframe of a stream (TS chunks) decoded with libavcodec, and a
// decoded picture scaled with libswscale and encoded as JPEG with libavcodec's mjpeg encoder.
// Pure libav, no libwebsockets; runs on the snapshot worker thread only (see snapshot_worker.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "chunk.h"

struct AVFrame;

namespace mpegcast::relay {

struct AVFrameFree {
  void operator()(AVFrame* f) const;
};
using FramePtr = std::unique_ptr<AVFrame, AVFrameFree>;

/// A decoded keyframe picture, or why there is none.
struct DecodedPicture {
  FramePtr frame;      // null on failure
  std::string codec;   // decoder name ("mpeg1video", "h264", …)
  std::string error;   // why `frame` is null
};

/// Demuxes `psi` (PAT + PMT, may be null) followed by `chunks` (a keyframe chunk and what
/// follows it) as MPEG-TS through a read-only AVIOContext over the chunks (no copy into one
/// buffer) and decodes the first picture of the first video stream (intra pictures only).
DecodedPicture decode_keyframe(const ChunkPtr& psi, const std::vector<ChunkPtr>& chunks);

/// The JPEG size for a picture of `src_w` x `src_h` asked at width `want_w` (0: the picture's
/// own width): the width clamped to 16..1920, the height keeping the aspect ratio (even, >= 2).
void snapshot_size(int src_w, int src_h, int want_w, int& out_w, int& out_h);

/// `picture` scaled to snapshot_size(…, want_w) and encoded as a baseline JPEG (4:2:0, full range).
/// Returns false with `error` set when scaling or encoding fails.
bool encode_jpeg(const AVFrame& picture, int want_w, std::string& jpeg, std::string& error);

}  // namespace mpegcast::relay
