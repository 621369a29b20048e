#include "video_format.h"

#include <vector>

#include "ts_packet.h"

namespace mpegcast {
namespace {

/// Reads bits MSB first from an RBSP; reading past the end sets `overrun` and returns zeros.
class BitReader {
 public:
  BitReader(const std::vector<uint8_t>& data) : d_(data) {}
  uint32_t u(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= d_.size() * 8) {
        overrun = true;
        return 0;
      }
      v = (v << 1) | ((d_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
      ++pos_;
    }
    return v;
  }
  /// Exp-Golomb ue(v) (ISO/IEC 14496-10 §9.1); values past 2^31 mark the stream as broken.
  uint32_t ue() {
    int zeros = 0;
    while (u(1) == 0) {
      if (overrun || ++zeros > 31) {
        overrun = true;
        return 0;
      }
    }
    return (1u << zeros) - 1 + u(zeros);
  }
  int32_t se() {
    const uint32_t k = ue();
    return (k & 1) ? static_cast<int32_t>((k + 1) / 2) : -static_cast<int32_t>(k / 2);
  }
  bool overrun = false;

 private:
  const std::vector<uint8_t>& d_;
  size_t pos_ = 0;
};

/// The NAL unit payload after its header byte with emulation prevention bytes removed
/// (00 00 03 → 00 00, §7.4.1.1), up to the next start code or `end`.
std::vector<uint8_t> rbsp(const uint8_t* p, const uint8_t* end) {
  std::vector<uint8_t> out;
  int zeros = 0;
  for (; p < end; ++p) {
    if (zeros >= 2 && *p == 0x03) {
      zeros = 0;
      continue;
    }
    if (zeros >= 2 && *p <= 0x01) break;  // the next start code
    zeros = *p == 0 ? zeros + 1 : 0;
    out.push_back(*p);
  }
  return out;
}

void skip_scaling_list(BitReader& r, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size && !r.overrun; ++j) {
    if (next != 0) next = (last + r.se() + 256) % 256;
    last = next == 0 ? last : next;
  }
}

std::optional<VideoFormat> parse_sps(const std::vector<uint8_t>& d) {
  BitReader r(d);
  const uint32_t profile = r.u(8);
  r.u(16);  // constraint flags, level_idc
  r.ue();   // seq_parameter_set_id
  uint32_t chroma_format = 1;
  bool separate_planes = false;
  static const uint32_t kHighProfiles[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
  for (uint32_t hp : kHighProfiles) {
    if (profile != hp) continue;
    chroma_format = r.ue();
    if (chroma_format > 3) return std::nullopt;
    if (chroma_format == 3) separate_planes = r.u(1);
    r.ue();  // bit_depth_luma_minus8
    r.ue();  // bit_depth_chroma_minus8
    r.u(1);  // qpprime_y_zero_transform_bypass_flag
    if (r.u(1)) {  // seq_scaling_matrix_present_flag
      for (int i = 0; i < (chroma_format != 3 ? 8 : 12) && !r.overrun; ++i) {
        if (r.u(1)) skip_scaling_list(r, i < 6 ? 16 : 64);
      }
    }
    break;
  }
  r.ue();  // log2_max_frame_num_minus4
  const uint32_t poc_type = r.ue();
  if (poc_type == 0) {
    r.ue();
  } else if (poc_type == 1) {
    r.u(1);
    r.se();
    r.se();
    const uint32_t n = r.ue();
    if (n > 255) return std::nullopt;
    for (uint32_t i = 0; i < n && !r.overrun; ++i) r.se();
  }
  r.ue();  // max_num_ref_frames
  r.u(1);  // gaps_in_frame_num_value_allowed_flag
  const uint32_t width_mbs = r.ue() + 1;
  const uint32_t height_units = r.ue() + 1;
  const uint32_t frame_mbs_only = r.u(1);
  if (!frame_mbs_only) r.u(1);  // mb_adaptive_frame_field_flag
  r.u(1);                       // direct_8x8_inference_flag
  uint32_t crop[4] = {0, 0, 0, 0};
  if (r.u(1)) {
    for (uint32_t& c : crop) c = r.ue();
  }
  double fps = 0;
  if (r.u(1)) {  // vui_parameters_present_flag (Annex E.1.1)
    if (r.u(1) && r.u(8) == 255) r.u(32);  // aspect ratio; 255: Extended_SAR (sar_width, sar_height)
    if (r.u(1)) r.u(1);                    // overscan
    if (r.u(1)) {                          // video signal type
      r.u(4);
      if (r.u(1)) r.u(24);
    }
    if (r.u(1)) {  // chroma location
      r.ue();
      r.ue();
    }
    if (r.u(1)) {  // timing_info_present_flag
      const uint32_t units = r.u(32), scale = r.u(32);
      if (!r.overrun && units > 0) fps = static_cast<double>(scale) / (2.0 * units);
      if (fps > 1000) fps = 0;  // not a frame rate (a broken or hostile VUI): unknown
    }
  }
  if (r.overrun || width_mbs > 1024 || height_units > 1024) return std::nullopt;
  const uint32_t array_type = separate_planes ? 0 : chroma_format;
  const uint32_t sub_w = array_type == 1 || array_type == 2 ? 2 : 1;
  const uint32_t sub_h = array_type == 1 ? 2 : 1;
  const uint32_t crop_x = array_type == 0 ? 1 : sub_w;
  const uint32_t crop_y = (array_type == 0 ? 1 : sub_h) * (2 - frame_mbs_only);
  const int64_t w = static_cast<int64_t>(width_mbs) * 16 - static_cast<int64_t>(crop_x) * (crop[0] + crop[1]);
  const int64_t h = static_cast<int64_t>(2 - frame_mbs_only) * height_units * 16 -
                    static_cast<int64_t>(crop_y) * (crop[2] + crop[3]);
  if (w <= 0 || h <= 0) return std::nullopt;
  VideoFormat f;
  f.codec = "h264";
  f.width = static_cast<int>(w);
  f.height = static_cast<int>(h);
  f.fps = fps;
  return f;
}

}  // namespace

const char* codec_name(uint8_t stream_type) {
  switch (stream_type) {
    case 0x01: return "mpeg1video";
    case 0x02: return "mpeg2video";
    case 0x1B: return "h264";
    case 0x24: return "hevc";
    case 0x03: return "mp2";
    case 0x04: return "mp2";  // MPEG-2 audio (layer II as FFmpeg writes it)
    case 0x0F: return "aac";
    case 0x11: return "aac_latm";
    case 0x81: return "ac3";
    default: return "";
  }
}

std::optional<VideoFormat> parse_video_format(uint8_t stream_type, const uint8_t* es, size_t len) {
  for (size_t i = 0; i + 4 <= len; ++i) {
    if (es[i] != 0 || es[i + 1] != 0 || es[i + 2] != 1) continue;
    const uint8_t code = es[i + 3];
    if ((stream_type == 0x01 || stream_type == 0x02) && code == 0xB3) {
      if (i + 8 > len) return std::nullopt;
      const uint8_t* p = es + i + 4;
      static const double kRates[] = {0, 24000.0 / 1001, 24, 25, 30000.0 / 1001, 30, 50, 60000.0 / 1001, 60};
      VideoFormat f;
      // FFmpeg's muxer marks MPEG-1 video as stream_type 0x02 too: MPEG-2 is the one whose
      // sequence header is followed by a sequence_extension (00 00 01 B5, id 1; 13818-2 §6.2.2.3).
      f.codec = "mpeg1video";
      for (size_t k = i + 12; k + 4 < len; ++k) {
        if (es[k] == 0 && es[k + 1] == 0 && es[k + 2] == 1) {
          if (es[k + 3] == 0xB5 && (es[k + 4] >> 4) == 1) f.codec = "mpeg2video";
          break;
        }
      }
      f.width = (p[0] << 4) | (p[1] >> 4);
      f.height = ((p[1] & 0x0F) << 8) | p[2];
      const int rate_code = p[3] & 0x0F;
      f.fps = rate_code < 9 ? kRates[rate_code] : 0;
      if (f.width == 0 || f.height == 0) return std::nullopt;
      return f;
    }
    if (stream_type == 0x1B && (code & 0x1F) == 7) {
      return parse_sps(rbsp(es + i + 4, es + len));
    }
  }
  return std::nullopt;
}

std::optional<VideoFormat> video_format_of_ts(const uint8_t* ts, size_t len, uint16_t video_pid, uint8_t stream_type) {
  std::vector<uint8_t> es;
  bool in_pes = false;
  for (size_t off = 0; off + kTsPacketSize <= len && es.size() < 4096; off += kTsPacketSize) {
    TsHeader h;
    if (!parse_ts_header(ts + off, h) || h.pid != video_pid || !h.has_payload) continue;
    const uint8_t* payload = ts + off + h.payload_offset;
    size_t n = kTsPacketSize - h.payload_offset;
    if (h.payload_unit_start) {
      if (in_pes) break;  // the next PES: the keyframe's headers were in the one before
      if (n < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1) continue;
      const size_t header = 9 + static_cast<size_t>(payload[8]);
      if (header >= n) continue;
      payload += header;
      n -= header;
      in_pes = true;
    } else if (!in_pes) {
      continue;
    }
    es.insert(es.end(), payload, payload + n);
  }
  return parse_video_format(stream_type, es.data(), es.size());
}

}  // namespace mpegcast
