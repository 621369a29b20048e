#include "keyframe_detector.h"

namespace mpegcast {
namespace {

bool is_video_stream_type(uint8_t t) {
  return t == 0x01 || t == 0x02 || t == 0x10 || t == 0x1B || t == 0x24 || t == 0x80;
}

// Returns the PSI section start within the payload (after pointer_field), or nullptr.
const uint8_t* section_start(const uint8_t* payload, size_t len, size_t& section_len) {
  if (len < 1) return nullptr;
  const size_t pointer = payload[0];
  if (1 + pointer + 3 > len) return nullptr;
  const uint8_t* s = payload + 1 + pointer;
  const size_t avail = len - 1 - pointer;
  const size_t slen = static_cast<size_t>(((s[1] & 0x0F) << 8) | s[2]) + 3;
  if (slen > avail) return nullptr;  // multi-packet sections are not needed for PAT/PMT of one program
  section_len = slen;
  return s;
}

}  // namespace

TsPacketKind KeyframeDetector::inspect(const uint8_t* packet) {
  TsPacketKind kind;
  TsHeader h;
  if (!parse_ts_header(packet, h)) return kind;
  kind.valid = true;
  kind.pid = h.pid;
  kind.continuity_counter = h.continuity_counter;
  kind.has_payload = h.has_payload;
  if (!h.has_payload) return kind;
  const uint8_t* payload = packet + h.payload_offset;
  const size_t len = kTsPacketSize - h.payload_offset;

  if (h.pid == kPidPat) {
    kind.pat = h.payload_unit_start;
    size_t slen = 0;
    if (h.payload_unit_start) {
      if (const uint8_t* s = section_start(payload, len, slen)) parse_pat(s, slen);
    }
    return kind;
  }
  if (h.pid == pmt_pid_) {
    kind.pmt = h.payload_unit_start;
    size_t slen = 0;
    if (h.payload_unit_start) {
      if (const uint8_t* s = section_start(payload, len, slen)) parse_pmt(s, slen);
    }
    return kind;
  }
  if (!h.payload_unit_start) return kind;

  const bool pes_start = len >= 9 && payload[0] == 0 && payload[1] == 0 && payload[2] == 1;
  bool is_video = false;
  if (video_pid_ != kNoPid) {
    is_video = h.pid == video_pid_;
  } else {
    is_video = pes_start && (payload[3] & 0xF0) == 0xE0;
  }
  if (!is_video) return kind;
  if (h.random_access) {
    kind.keyframe = true;
    return kind;
  }
  if (!pes_start) return kind;
  const size_t es_offset = 9 + static_cast<size_t>(payload[8]);
  if (es_offset >= len) return kind;
  kind.keyframe = payload_starts_gop(payload + es_offset, len - es_offset);
  return kind;
}

void KeyframeDetector::parse_pat(const uint8_t* s, size_t len) {
  if (s[0] != 0x00 || len < 12) return;  // table_id program_association_section
  // 8-byte header, programs of 4 bytes each, 4-byte CRC.
  for (size_t i = 8; i + 4 <= len - 4; i += 4) {
    const uint16_t program = static_cast<uint16_t>((s[i] << 8) | s[i + 1]);
    const uint16_t pid = static_cast<uint16_t>(((s[i + 2] & 0x1F) << 8) | s[i + 3]);
    if (program != 0) {  // program 0 is the network PID
      if (pid != pmt_pid_) {
        pmt_pid_ = pid;
        video_pid_ = kNoPid;
        video_stream_type_ = 0;
      }
      return;
    }
  }
}

void KeyframeDetector::parse_pmt(const uint8_t* s, size_t len) {
  if (s[0] != 0x02 || len < 16) return;  // table_id TS_program_map_section
  const size_t program_info_len = static_cast<size_t>(((s[10] & 0x0F) << 8) | s[11]);
  size_t i = 12 + program_info_len;
  bool video = false;
  audio_stream_type_ = 0;
  while (i + 5 <= len - 4) {
    const uint8_t type = s[i];
    const uint16_t pid = static_cast<uint16_t>(((s[i + 1] & 0x1F) << 8) | s[i + 2]);
    const size_t es_info_len = static_cast<size_t>(((s[i + 3] & 0x0F) << 8) | s[i + 4]);
    if (!video && is_video_stream_type(type)) {
      video_pid_ = pid;
      video_stream_type_ = type;
      video = true;
    } else if (!audio_stream_type_ && (type == 0x03 || type == 0x04 || type == 0x0F || type == 0x11 || type == 0x81)) {
      audio_stream_type_ = type;
    }
    i += 5 + es_info_len;
  }
}

bool KeyframeDetector::payload_starts_gop(const uint8_t* p, size_t len) const {
  for (size_t i = 0; i + 4 < len; ++i) {
    if (p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1) continue;
    const uint8_t code = p[i + 3];
    switch (video_stream_type_) {
      case 0x1B: {  // H.264: IDR slice (5) or SPS (7)
        const uint8_t nal_type = code & 0x1F;
        if (nal_type == 5 || nal_type == 7) return true;
        break;
      }
      case 0x24: {  // HEVC: IRAP pictures (16..21) or VPS (32)
        const uint8_t nal_type = (code >> 1) & 0x3F;
        if ((nal_type >= 16 && nal_type <= 21) || nal_type == 32) return true;
        break;
      }
      default:  // MPEG-1/2 video (also used before the PMT is known)
        if (code == 0xB3 || code == 0xB8) return true;  // sequence_header_code, group_start_code
        if (code == 0x00) {  // picture_start_code: 10-bit temporal_reference, 3-bit picture_coding_type
          return i + 5 < len && ((p[i + 5] >> 3) & 0x7) == 1;  // 1 = I-picture
        }
        break;
    }
  }
  return false;
}

}  // namespace mpegcast
