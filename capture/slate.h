// The picture the stream shows while the source is lost: "NO SIGNAL", the source's name and
// "since HH:MM:SS", drawn with libavfilter's drawtext on a flat background.
#pragma once
#include <ctime>
#include <string>

#include "ff_ptr.h"

namespace mpegcast::capture {

/// The slate's background as yuv420p (BT.601 limited range): dark blue-grey #203040.
/// Tests recognise a slate picture by it (most of the picture is this colour).
struct SlateColour {
  static constexpr int y = 55, u = 136, v = 122;
};

/// Renders slates of one size. A picture is rendered once per loss (the text only changes
/// then); the encoder encodes copies of it at the stream's rate.
class Slate {
 public:
  /// `source_name`: the camera's name for the picture (secrets already masked).
  Slate(int width, int height, std::string source_name);

  /// A width x height yuv420p picture saying the source is lost since `since` (wall clock,
  /// shown in local time). Never null: without drawtext or a font, the plain background.
  FramePtr render(std::time_t since);

 private:
  FramePtr render_text(const std::string& since_text);
  FramePtr plain() const;

  int width_, height_;
  std::string name_;
  bool text_failed_ = false;  // drawtext unusable here: logged once, plain pictures from then on
};

}  // namespace mpegcast::capture
