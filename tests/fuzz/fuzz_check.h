// The fuzz targets' assertion: a broken invariant prints what broke and aborts, which libFuzzer
// (and the replay runner under ctest) report as a crash. Active in every build type.
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)
