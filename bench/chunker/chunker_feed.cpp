// Ingest-path micro-benchmark (not built by CMake; see bench/README.md "Ingest chunker"): feeds a TS file through
// TsChunker in 1316-byte reads (as UDP or small TCP reads), N passes; prints ns per TS packet.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>
#include "ts_chunker.h"
using namespace mpegcast;
int main(int argc, char** argv) {
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<uint8_t> ts((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int passes = atoi(argv[2]);
  TsChunker chunker;
  size_t chunks = 0;
  auto sink = [&](std::shared_ptr<Chunk> c) { chunks += c->size() > 0; };
  const auto t0 = std::chrono::steady_clock::now();
  for (int p = 0; p < passes; ++p)
    for (size_t off = 0; off < ts.size(); off += 1316) chunker.feed(ts.data() + off, std::min<size_t>(1316, ts.size() - off), 0, sink);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double packets = double(ts.size() / 188) * passes;
  std::printf("%.2f ns/packet (%zu chunks)\n", s * 1e9 / packets, chunks);
}
