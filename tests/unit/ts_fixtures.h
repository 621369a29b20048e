// Test fixtures: real FFmpeg output (ffmpeg CLI) and hand-built TS packets for hub logic.
#pragma once
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpegcast::test {

/// Runs the ffmpeg CLI to make `seconds` of lavfi testsrc2 as MPEG-TS with `codec_args`
/// (e.g. "-c:v mpeg1video -bf 0 -g 25") and returns the file's bytes. Throws when ffmpeg fails.
inline std::vector<uint8_t> ffmpeg_ts(const std::string& codec_args, double seconds, const std::string& size = "160x120") {
  char tmpl[] = "/tmp/mpegcast-test-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  std::string path = std::string(tmpl) + ".ts";
  const std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=" + size +
                          ":rate=25 -t " + std::to_string(seconds) + " " + codec_args + " -f mpegts " + path;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("ffmpeg failed: " + cmd);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  std::remove(tmpl);
  return bytes;
}

/// Builds single TS packets of one program: PAT (PMT on PID 0x1000), PMT (video PID 0x100,
/// stream_type 0x01 MPEG-1) and video packets whose PES start is or is not a keyframe (RAI).
class TsBuilder {
 public:
  static constexpr uint16_t kPmtPid = 0x1000;
  static constexpr uint16_t kVideoPid = 0x100;

  std::array<uint8_t, 188> pat() {
    std::array<uint8_t, 188> p = header(0, true, false);
    const uint8_t sec[] = {0x00, 0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00,
                           0x00, 0x01, 0xE0 | (kPmtPid >> 8), kPmtPid & 0xFF, 0, 0, 0, 0};
    std::copy(std::begin(sec), std::end(sec), p.begin() + 4);  // pointer_field 0 + section
    return p;
  }
  std::array<uint8_t, 188> pmt() {
    std::array<uint8_t, 188> p = header(kPmtPid, true, false);
    const uint8_t sec[] = {0x00, 0x02, 0xB0, 0x12, 0x00, 0x01, 0xC1, 0x00, 0x00, 0xE0 | (kVideoPid >> 8),
                           kVideoPid & 0xFF, 0xF0, 0x00, 0x01, 0xE0 | (kVideoPid >> 8), kVideoPid & 0xFF, 0xF0, 0x00,
                           0, 0, 0, 0};
    std::copy(std::begin(sec), std::end(sec), p.begin() + 4);
    return p;
  }
  /// A video packet; `start` = PES start (PUSI), `key` = random_access_indicator set.
  std::array<uint8_t, 188> video(bool start, bool key) {
    std::array<uint8_t, 188> p = header(kVideoPid, start, key);
    if (start) {
      const size_t at = key ? 6 : 4;  // after the 2-byte adaptation field
      const uint8_t pes[] = {0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80, 0x00, 0x00};
      std::copy(std::begin(pes), std::end(pes), p.begin() + static_cast<long>(at));
    }
    return p;
  }
  /// PAT, PMT, keyframe start, then `frames - 1` non-key frames of `packets_per_frame` packets.
  std::vector<uint8_t> gop(int frames, int packets_per_frame) {
    std::vector<uint8_t> out;
    auto add = [&out](const std::array<uint8_t, 188>& p) { out.insert(out.end(), p.begin(), p.end()); };
    add(pat());
    add(pmt());
    for (int f = 0; f < frames; ++f) {
      for (int i = 0; i < packets_per_frame; ++i) add(video(i == 0, f == 0 && i == 0));
    }
    return out;
  }
  /// One non-key frame.
  std::vector<uint8_t> frame(int packets) {
    std::vector<uint8_t> out;
    for (int i = 0; i < packets; ++i) {
      auto p = video(i == 0, false);
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  }

 private:
  std::array<uint8_t, 188> header(uint16_t pid, bool pusi, bool rai) {
    std::array<uint8_t, 188> p;
    p.fill(0xFF);
    p[0] = 0x47;
    p[1] = static_cast<uint8_t>((pusi ? 0x40 : 0) | (pid >> 8));
    p[2] = static_cast<uint8_t>(pid & 0xFF);
    uint8_t& cc = cc_[pid & 0x1FFF];
    p[3] = static_cast<uint8_t>((rai ? 0x30 : 0x10) | (cc & 0x0F));
    cc = static_cast<uint8_t>(cc + 1);
    if (rai) {
      p[4] = 1;     // adaptation_field_length
      p[5] = 0x40;  // random_access_indicator
    }
    return p;
  }
  std::array<uint8_t, 8192> cc_{};
};

}  // namespace mpegcast::test
