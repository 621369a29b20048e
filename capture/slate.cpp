#include "slate.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include <unistd.h>

extern "C" {
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavutil/opt.h>
}

#include "log.h"

namespace mpegcast::capture {
namespace {

// fonts-dejavu-core (install-deps.sh); drawtext falls back to fontconfig's default without it.
constexpr const char* kFontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

struct GraphDeleter {
  void operator()(AVFilterGraph* g) const { avfilter_graph_free(&g); }
};
using GraphPtr = std::unique_ptr<AVFilterGraph, GraphDeleter>;

/// A drawtext filter with `text` (taken literally: expansion none) centred at height `y_expr`.
AVFilterContext* add_text(AVFilterGraph* g, const char* name, const std::string& text, int size_px, const char* y_expr) {
  const AVFilter* f = avfilter_get_by_name("drawtext");
  if (!f) return nullptr;
  AVFilterContext* c = avfilter_graph_alloc_filter(g, f, name);
  if (!c) return nullptr;
  if (access(kFontFile, R_OK) == 0) av_opt_set(c, "fontfile", kFontFile, AV_OPT_SEARCH_CHILDREN);
  av_opt_set(c, "expansion", "none", AV_OPT_SEARCH_CHILDREN);
  av_opt_set(c, "text", text.c_str(), AV_OPT_SEARCH_CHILDREN);
  av_opt_set(c, "fontcolor", "white", AV_OPT_SEARCH_CHILDREN);
  av_opt_set(c, "fontsize", std::to_string(size_px).c_str(), AV_OPT_SEARCH_CHILDREN);  // an expression
  av_opt_set(c, "x", "(w-text_w)/2", AV_OPT_SEARCH_CHILDREN);
  av_opt_set(c, "y", y_expr, AV_OPT_SEARCH_CHILDREN);
  if (avfilter_init_str(c, nullptr) < 0) return nullptr;
  return c;
}

}  // namespace

Slate::Slate(int width, int height, std::string source_name)
    : width_(width), height_(height), name_(std::move(source_name)) {}

FramePtr Slate::plain() const {
  FramePtr f = make_frame();
  if (!f) return nullptr;
  f->width = width_;
  f->height = height_;
  f->format = AV_PIX_FMT_YUV420P;
  if (av_frame_get_buffer(f.get(), 0) < 0) return nullptr;
  const int values[3] = {SlateColour::y, SlateColour::u, SlateColour::v};
  for (int p = 0; p < 3; ++p) {
    const int rows = p == 0 ? height_ : (height_ + 1) / 2;
    for (int r = 0; r < rows; ++r) std::memset(f->data[p] + static_cast<ptrdiff_t>(r) * f->linesize[p], values[p], f->linesize[p]);
  }
  return f;
}

FramePtr Slate::render_text(const std::string& since_text) {
  GraphPtr g(avfilter_graph_alloc());
  if (!g) return nullptr;
  g->nb_threads = 1;
  const std::string size = std::to_string(width_) + "x" + std::to_string(height_);
  AVFilterContext *bg = nullptr, *fmt = nullptr, *sink = nullptr;
  if (avfilter_graph_create_filter(&bg, avfilter_get_by_name("color"), "bg", ("c=0x203040:r=1:s=" + size).c_str(),
                                   nullptr, g.get()) < 0) {
    return nullptr;
  }
  const int big = std::max(10, height_ / 9), small = std::max(8, height_ / 22);
  // The name shortened to what fits on one line (DejaVu Sans Bold: about 0.62 em per character).
  const size_t max_chars = std::max<size_t>(8, static_cast<size_t>(width_ * 0.9 / (small * 0.62)));
  std::string name = name_;
  if (name.size() > max_chars) name = name.substr(0, max_chars - 3) + "...";
  AVFilterContext* t1 = add_text(g.get(), "title", "NO SIGNAL", big, "h/2-text_h-h/20");
  AVFilterContext* t2 = add_text(g.get(), "name", name, small, "h/2+h/40");
  AVFilterContext* t3 = add_text(g.get(), "since", "since " + since_text, small, "h/2+h/40+h/12");
  if (!t1 || !t2 || !t3) return nullptr;
  if (avfilter_graph_create_filter(&fmt, avfilter_get_by_name("format"), "fmt", "pix_fmts=yuv420p", nullptr, g.get()) < 0 ||
      avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr, g.get()) < 0) {
    return nullptr;
  }
  if (avfilter_link(bg, 0, t1, 0) < 0 || avfilter_link(t1, 0, t2, 0) < 0 || avfilter_link(t2, 0, t3, 0) < 0 ||
      avfilter_link(t3, 0, fmt, 0) < 0 || avfilter_link(fmt, 0, sink, 0) < 0) {
    return nullptr;
  }
  if (avfilter_graph_config(g.get(), nullptr) < 0) return nullptr;
  FramePtr f = make_frame();
  if (!f || av_buffersink_get_frame(sink, f.get()) < 0) return nullptr;
  if (f->width != width_ || f->height != height_ || f->format != AV_PIX_FMT_YUV420P) return nullptr;
  return f;
}

FramePtr Slate::render(std::time_t since) {
  std::tm local{};
  localtime_r(&since, &local);
  char hms[16];
  std::strftime(hms, sizeof hms, "%H:%M:%S", &local);
  if (!text_failed_) {
    if (FramePtr f = render_text(hms)) return f;
    text_failed_ = true;
    LOG_WARN("slate: libavfilter drawtext is unusable here (no font?): the slate is a plain picture");
  }
  return plain();
}

}  // namespace mpegcast::capture
