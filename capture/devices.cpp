#include "devices.h"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace mpegcast::capture {

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
  return out;
}

}  // namespace mpegcast::capture
