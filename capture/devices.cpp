#include "devices.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace mpegcast::capture {
namespace {

/// FourCC → the name the v4l2 demuxer's input_format option takes (libavdevice's table).
std::string format_name(uint32_t fourcc) {
  static const struct {
    uint32_t fourcc;
    const char* name;
  } kNames[] = {{V4L2_PIX_FMT_MJPEG, "mjpeg"},   {V4L2_PIX_FMT_JPEG, "mjpeg"},    {V4L2_PIX_FMT_YUYV, "yuyv422"},
                {V4L2_PIX_FMT_UYVY, "uyvy422"},  {V4L2_PIX_FMT_YUV420, "yuv420p"}, {V4L2_PIX_FMT_NV12, "nv12"},
                {V4L2_PIX_FMT_H264, "h264"},     {V4L2_PIX_FMT_RGB24, "rgb24"},    {V4L2_PIX_FMT_BGR24, "bgr24"},
                {V4L2_PIX_FMT_GREY, "gray"},     {V4L2_PIX_FMT_YUV422P, "yuv422p"}};
  for (const auto& n : kNames) {
    if (n.fourcc == fourcc) return n.name;
  }
  char cc[5] = {static_cast<char>(fourcc & 0xff), static_cast<char>((fourcc >> 8) & 0xff),
                static_cast<char>((fourcc >> 16) & 0xff), static_cast<char>((fourcc >> 24) & 0xff), 0};
  return cc;
}

int xioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ::ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

std::vector<double> frame_rates(int fd, uint32_t fourcc, uint32_t w, uint32_t h) {
  std::vector<double> rates;
  v4l2_frmivalenum iv{};
  iv.pixel_format = fourcc;
  iv.width = w;
  iv.height = h;
  for (iv.index = 0; xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) == 0 && iv.type == V4L2_FRMIVAL_TYPE_DISCRETE; ++iv.index) {
    if (iv.discrete.numerator) rates.push_back(static_cast<double>(iv.discrete.denominator) / iv.discrete.numerator);
  }
  return rates;
}

void query(VideoDevice& d) {
  const int fd = ::open(d.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    d.error = errno == EACCES || errno == EPERM
                  ? "permission denied: add the user to group \"video\" (sudo usermod -aG video $USER), then log in again"
                  : std::strerror(errno);
    return;
  }
  v4l2_capability cap{};
  if (xioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
    d.error = std::string("not a V4L2 device: ") + std::strerror(errno);
    ::close(fd);
    return;
  }
  const uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
  d.capture = (caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE)) != 0;
  if (d.name.empty()) d.name = reinterpret_cast<const char*>(cap.card);
  v4l2_fmtdesc fmt{};
  fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  for (fmt.index = 0; d.capture && xioctl(fd, VIDIOC_ENUM_FMT, &fmt) == 0; ++fmt.index) {
    VideoFormat f;
    f.name = format_name(fmt.pixelformat);
    f.description = reinterpret_cast<const char*>(fmt.description);
    v4l2_frmsizeenum fs{};
    fs.pixel_format = fmt.pixelformat;
    for (fs.index = 0; xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) == 0; ++fs.index) {
      if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
        f.sizes.push_back({static_cast<int>(fs.discrete.width), static_cast<int>(fs.discrete.height),
                           frame_rates(fd, fmt.pixelformat, fs.discrete.width, fs.discrete.height)});
      } else {
        f.size_range = std::to_string(fs.stepwise.min_width) + "x" + std::to_string(fs.stepwise.min_height) + " - " +
                       std::to_string(fs.stepwise.max_width) + "x" + std::to_string(fs.stepwise.max_height);
        break;
      }
    }
    d.formats.push_back(std::move(f));
  }
  ::close(fd);
}

}  // namespace

std::vector<VideoDevice> list_video_devices() {
  std::vector<VideoDevice> out;
  DIR* dir = ::opendir("/dev");
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir)) {
    const std::string n = e->d_name;
    if (n.rfind("video", 0) != 0 || n.size() == 5 || n.find_first_not_of("0123456789", 5) != std::string::npos) continue;
    VideoDevice d;
    d.path = "/dev/" + n;
    std::ifstream f("/sys/class/video4linux/" + n + "/name");
    std::getline(f, d.name);
    out.push_back(d);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end(), [](const VideoDevice& a, const VideoDevice& b) {
    return std::atoi(a.path.c_str() + 10) < std::atoi(b.path.c_str() + 10);
  });
  for (VideoDevice& d : out) query(d);
  return out;
}

std::string format_device_list(const std::vector<VideoDevice>& devices) {
  if (devices.empty()) {
    return "no video devices (/dev/video*): is a camera plugged in, and its driver loaded (lsmod | grep uvcvideo)?\n";
  }
  std::string s;
  for (const VideoDevice& d : devices) {
    s += d.path + "\t" + (d.name.empty() ? "(no name)" : d.name) + "\n";
    if (!d.error.empty()) {
      s += "  " + d.error + "\n";
      continue;
    }
    if (!d.capture) {
      s += "  not a video capture node (metadata or output): not a source\n";
      continue;
    }
    if (d.formats.empty()) s += "  no formats reported\n";
    for (const VideoFormat& f : d.formats) {
      s += "  input_format \"" + f.name + "\" (" + f.description + "):";
      if (!f.size_range.empty()) s += " " + f.size_range;
      for (size_t i = 0; i < f.sizes.size(); ++i) {
        const VideoSize& z = f.sizes[i];
        s += std::string(i ? "," : "") + " " + std::to_string(z.width) + "x" + std::to_string(z.height);
        if (!z.rates.empty()) {
          s += " @";
          for (size_t r = 0; r < z.rates.size(); ++r) {
            char fps[32];
            std::snprintf(fps, sizeof fps, "%s%g", r ? "/" : " ", z.rates[r]);
            s += fps;
          }
        }
      }
      s += "\n";
    }
  }
  return s;
}

}  // namespace mpegcast::capture
