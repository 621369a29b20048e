#include "pipeline.h"

#include <cmath>
#include <ctime>

#include "clock.h"
#include "log.h"
#include "source_signal.h"
#include "ts_packet.h"
#include "video_codec.h"

namespace mpegcast::capture {
namespace {
constexpr int kFallbackWidth = 640, kFallbackHeight = 480;
}

Pipeline::Pipeline(const CaptureConfig& cfg, std::vector<AvOutputLink*> targets) : cfg_(cfg), targets_(std::move(targets)) {
  heartbeat_ms_ = now_ms();
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::open() {
  const VideoCodec* codec = find_video_codec(cfg_.output.codec);
  if (!codec) throw std::runtime_error("encoder: unknown codec \"" + cfg_.output.codec + "\"");
  std::unique_ptr<Source> source;
  std::string source_error;
  static const std::atomic<bool> never{false};  // static: the first Source keeps a reference to it
  try {
    source = std::make_unique<Source>(cfg_.input, never);
  } catch (const SourceError& e) {
    source_error = e.what();
    LOG_WARN("%s; starting with the slate and retrying with backoff", e.what());
  }
  int width = cfg_.output.width, height = cfg_.output.height;
  if (width <= 0 || height <= 0) {
    if (source && source->width() > 0 && source->height() > 0) {
      width = (source->width() + 1) / 2 * 2;
      height = (source->height() + 1) / 2 * 2;
    } else {
      width = kFallbackWidth;
      height = kFallbackHeight;
      LOG_NOTICE("source %s: picture size unknown: encoding %dx%d (set output.width/height)",
                 describe_input(cfg_.input).c_str(), width, height);
    }
  }
  AVRational wanted = source ? source->frame_rate() : AVRational{0, 1};
  if (cfg_.output.framerate > 0) wanted = av_d2q(cfg_.output.framerate, 1001000);
  const AVRational rate = codec->encoder_rate(wanted);
  if (wanted.num <= 0) {
    LOG_NOTICE("source %s: frame rate unknown: encoding at %.3f fps", describe_input(cfg_.input).c_str(), av_q2d(rate));
  } else if (av_cmp_q(wanted, rate) != 0 && std::abs(av_q2d(wanted) - av_q2d(rate)) > 0.01) {
    LOG_NOTICE("frame rate %.3f fps is not a %s rate: encoding at the nearest one, %.3f fps "
               "(frames dropped or repeated by timestamp)",
               av_q2d(wanted), std::string(codec->name).c_str(), av_q2d(rate));
  }
  encoder_ = std::make_unique<Encoder>(*codec, width, height, rate, cfg_.output);
  muxer_ = std::make_unique<TsMuxer>(encoder_->context(), [this](ChunkPtr chunk, const ChunkPtr& psi) {
    counters_.bytes_out += chunk->size();
    const bool keyframe = chunk->keyframe;
    for (AvOutputLink* t : targets_) t->push(chunk, psi);
    if (keyframe) {  // once per GOP, the source state for relays and their dashboards
      ChunkPtr signal = source_signal_chunk();
      counters_.bytes_out += signal->size();
      for (AvOutputLink* t : targets_) t->push(signal, psi);
    }
  });
  mapper_ = std::make_unique<FrameRateMapper>(rate);
  supplier_ = std::make_unique<FrameSupplier>(cfg_, std::move(source), std::move(source_error), width, height, rate,
                                              counters_);
  LOG_INFO("encoder: %s %dx%d %.3f fps, %lld bit/s (max %lld), GOP %d frames", encoder_->name(), width, height,
           av_q2d(rate), static_cast<long long>(cfg_.output.bitrate_bps), static_cast<long long>(cfg_.output.maxrate_bps),
           encoder_->gop_frames());
}

void Pipeline::start() {
  start_us_ = now_us();
  supplier_->start();
  thread_ = std::thread([this] { run(); });
}

void Pipeline::stop() {
  if (supplier_) supplier_->stop();
  if (thread_.joinable()) thread_.join();
  if (flushed_) return;
  flushed_ = true;
  if (encoder_ && muxer_) {
    encoder_->encode(nullptr, [this](AVPacket* p) { return muxer_->write(p); });
    muxer_->finish();
  }
}

ChunkPtr Pipeline::source_signal_chunk() {
  const SupplierStatus st = supplier_ ? supplier_->status() : SupplierStatus{};
  const SourceSignalState state = st.slate ? SourceSignalState::slate : SourceSignalState::live;
  if (state != signal_state_ || signal_since_s_ == 0) {
    signal_state_ = state;
    signal_since_s_ = st.slate ? static_cast<int64_t>(st.slate_since) : static_cast<int64_t>(std::time(nullptr));
  }
  auto chunk = Chunk::create(kTsPacketSize);
  uint8_t packet[kTsPacketSize];
  build_source_signal_packet(SourceSignal{state, signal_since_s_}, signal_cc_++ & 0x0F, packet);
  chunk->append(packet, kTsPacketSize);
  return chunk;
}

int Pipeline::encode_and_mux(const AVFrame* frame) {
  return encoder_->encode(frame, [this](AVPacket* p) { return muxer_->write(p); });
}

int Pipeline::process(Picture& picture) {
  int64_t first = 0;
  const int copies = mapper_->map(picture.t_us - start_us_, first);
  if (copies == 0) {
    ++counters_.frames_dropped;
    return 0;
  }
  for (int i = 0; i < copies; ++i) {
    FramePtr copy(i == 0 ? nullptr : av_frame_clone(picture.frame.get()));
    AVFrame* f = i == 0 ? picture.frame.get() : copy.get();
    if (!f) break;
    f->pts = first + i;
    f->pict_type = i == 0 && picture.keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    const int err = encode_and_mux(f);
    if (err < 0) return err;
    ++counters_.frames_out;
    if (i > 0) ++counters_.frames_repeated;
  }
  return 0;
}

void Pipeline::run() {
  Picture picture;
  while (true) {
    const FrameSupplier::Supply s = supplier_->next(picture, heartbeat_ms_);
    if (s == FrameSupplier::Supply::stopped) break;
    if (s == FrameSupplier::Supply::ended) break;
    const int err = process(picture);
    picture.frame.reset();
    if (err < 0) {
      LOG_ERR("encoder: %s", av_error_text(err).c_str());
      exit_code_ = 1;
      break;
    }
  }
  finished_ = true;
}

}  // namespace mpegcast::capture
