// Log lines that remote peers cause are bounded per peer and overall, with a summary of what was left out.
#define BOOST_TEST_MODULE log_limiter
#include <boost/test/unit_test.hpp>

#include "log_limiter.h"

using mpegcast::LogLimiter;

BOOST_AUTO_TEST_CASE(a_few_lines_per_key_per_window) {
  LogLimiter l(3, 100, 10000, 16);
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += l.allow("10.0.0.1", i);
  BOOST_TEST(written == 3);
  BOOST_TEST(l.suppressed_total() == 997u);
  BOOST_TEST(l.allow("10.0.0.2", 1000));  // another peer has its own budget
  BOOST_TEST(l.allow("10.0.0.1", 10000));  // a new window
}

BOOST_AUTO_TEST_CASE(many_keys_share_a_total) {
  LogLimiter l(5, 20, 10000, 4096);
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += l.allow("peer" + std::to_string(i), 0);
  BOOST_TEST(written == 20);  // the cap over all keys
}

BOOST_AUTO_TEST_CASE(the_key_table_is_bounded) {
  LogLimiter l(5, 1000, 10000, 8);
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += l.allow("peer" + std::to_string(i), 0);
  BOOST_TEST(written == 8 + 5);  // 8 tracked keys, then the rest share one key's budget
  l.flush(20000);                // windows ended: the table empties
  BOOST_TEST(l.allow("peer0", 20000));
}
