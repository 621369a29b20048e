// --list-devices: the V4L2 capture devices of this machine.
#pragma once
#include <string>
#include <vector>

namespace mpegcast::capture {

struct VideoDevice {
  std::string path;  // "/dev/video0"
  std::string name;  // from /sys/class/video4linux/videoN/name, "" if unknown
};

/// The /dev/video* nodes, sorted by number, with their driver-reported names.
std::vector<VideoDevice> list_video_devices();

}  // namespace mpegcast::capture
