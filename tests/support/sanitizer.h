// Whether the tests (and the mpegcast programs built with them) run under AddressSanitizer
// (cmake -DMPEGCAST_SANITIZE=ON, scripts/test-sanitize.sh), so that limits measured on a plain build can be
// scaled instead of skipped.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define MPEGCAST_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPEGCAST_TEST_SANITIZED 1
#endif
#endif
#ifndef MPEGCAST_TEST_SANITIZED
#define MPEGCAST_TEST_SANITIZED 0
#endif

namespace mpegcast::test {

/// True in a sanitizer build. The programs under test are built with the same flags as the test.
constexpr bool sanitizer_build() { return MPEGCAST_TEST_SANITIZED != 0; }

/// `plain` (a limit measured on a plain build: memory, CPU time, a grace period) times `factor` in a
/// sanitizer build. ASan's shadow memory, redzones and quarantine cost memory; its checks cost CPU.
constexpr double sanitizer_scaled(double plain, double factor) { return sanitizer_build() ? plain * factor : plain; }

}  // namespace mpegcast::test
