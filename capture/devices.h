// --list-devices: the V4L2 capture devices of this machine, with their formats, sizes and rates.
#pragma once
#include <string>
#include <vector>

namespace mpegcast::capture {

/// One frame size of a format, with its discrete frame rates (frames/s; empty: stepwise/unknown).
struct VideoSize {
  int width = 0, height = 0;
  std::vector<double> rates;
};

/// One pixel or compressed format a device offers (VIDIOC_ENUM_FMT).
struct VideoFormat {
  std::string name;         // as input.input_format takes it ("mjpeg", "yuyv422"), else the FourCC
  std::string description;  // the driver's ("Motion-JPEG")
  std::vector<VideoSize> sizes;
  std::string size_range;   // "320x240 - 1920x1080" for stepwise sizes, else ""
};

struct VideoDevice {
  std::string path;   // "/dev/video0"
  std::string name;   // from /sys/class/video4linux/videoN/name, "" if unknown
  std::string error;  // why it could not be queried ("permission denied: …"); "" when it could
  bool capture = false;  // a video capture node (not metadata or output)
  std::vector<VideoFormat> formats;
};

/// The /dev/video* nodes, sorted by number, with their driver-reported names, formats, sizes and
/// frame rates (VIDIOC_QUERYCAP, VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMESIZES, VIDIOC_ENUM_FRAMEINTERVALS).
std::vector<VideoDevice> list_video_devices();

/// The listing for --list-devices, with a clear line when there is no device or no permission.
std::string format_device_list(const std::vector<VideoDevice>& devices);

}  // namespace mpegcast::capture
