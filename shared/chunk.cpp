#include "chunk.h"

#include <cstring>

namespace mpegcast {

std::shared_ptr<Chunk> Chunk::create(size_t capacity_bytes) {
  std::unique_ptr<uint8_t[]> storage(new uint8_t[kChunkHeadroom + capacity_bytes]);
  return std::shared_ptr<Chunk>(new Chunk(std::move(storage), capacity_bytes));
}

bool Chunk::append(const uint8_t* bytes, size_t len) {
  if (len > room()) return false;
  std::memcpy(storage_.get() + kChunkHeadroom + size_, bytes, len);
  size_ += len;
  return true;
}

}  // namespace mpegcast
