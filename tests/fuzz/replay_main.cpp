// Replays fuzz inputs without libFuzzer: links with one fuzz target's source and calls its
// LLVMFuzzerTestOneInput once per file. ctest runs it over the seed corpus and the regression
// inputs in every build (g++ or clang, with or without sanitizers), so a past crash stays fixed.
//
// Usage: fuzz_replay_<target> PATH…   (a PATH is a file or a folder of inputs; folders are read in
// name order, not recursively, and their dot-files are skipped). Exit status 0 when every input
// ran; 2 when a PATH cannot be read. A broken invariant aborts, as it would under libFuzzer.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

/// The input files `path` names: itself, or a folder's regular files sorted by name.
bool list_inputs(const fs::path& path, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    out.push_back(path);
    return true;
  }
  if (!fs::is_directory(path, ec)) return false;
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
    if (e.is_regular_file() && e.path().filename().string().front() != '.') files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
  return !ec;
}

/// Runs the target once on the contents of `file`.
bool replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
  // A heap copy of exactly the input's size (never nullptr, even when empty), as libFuzzer passes
  // it, so a sanitizer catches a read past the end.
  auto exact = std::make_unique<uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), exact.get());
  LLVMFuzzerTestOneInput(exact.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH…  (input files or folders of them)\n", argv[0]);
    return 2;
  }
  size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<fs::path> files;
    if (!list_inputs(argv[i], files)) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
      return 2;
    }
    for (const fs::path& f : files) {
      if (!replay(f)) {
        std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
        return 2;
      }
      ++count;
    }
  }
  std::printf("%s: %zu inputs replayed, no invariant broken\n", argv[0], count);
  return 0;
}
