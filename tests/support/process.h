// A child process under test (mpegcast-relay, mpegcast-capture, ffmpeg) with its output in a log file.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace mpegcast::test {

/// Directory for child logs: ${MPEGCAST_BINARY_DIR}/test-logs (created on demand).
std::string test_log_dir();

/// Forks and execs `argv` with stdout and stderr going to
/// `${MPEGCAST_BINARY_DIR}/test-logs/<current test>-<name>.log`.
/// The child gets SIGKILL if the test process dies. The destructor stops the child (see stop()),
/// and, when the current test case has failed, prints the log path and its last lines with
/// BOOST_TEST_MESSAGE.
class Process {
 public:
  /// Starts the child at once; throws std::runtime_error when fork fails. An exec failure shows as
  /// exit status 127 and a line in the log.
  Process(std::string name, std::vector<std::string> argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// True while the child has not exited (reaps it if it has).
  bool running();

  /// Waits until a line of the log matches `pattern` (ECMAScript regex, searched anywhere in the
  /// line), looking only at bytes from `from_offset` on (never at the command line the log starts with). Returns false after `timeout_ms`, or early
  /// when the child exited without printing such a line.
  bool wait_for_log(const std::string& pattern, int timeout_ms, size_t from_offset = 0);

  /// The log contents so far.
  std::string log_text() const;
  /// Current size of the log, to pass as `from_offset` to wait for something new.
  size_t log_size() const;
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  /// SIGTERM, waits up to `grace_ms` (3 times as long in a sanitizer build), then SIGKILL. Returns the exit
  /// status: the exit code when the child exited, 128 + signal when a signal ended it, -1 when no child
  /// was running. In a sanitizer build, an mpegcast program that needs the SIGKILL fails the test.
  int stop(int grace_ms = 3000);

  /// SIGKILL without grace (simulates a crash); reaps the child. Returns as stop() does.
  int kill_hard();

  /// Exit status as stop() reports it, once the child has ended; -1 while it runs.
  int exit_status() const { return exit_status_; }

 private:
  bool reap(bool block);

  std::string name_;
  std::string program_;  // argv[0]
  std::string log_path_;
  size_t header_size_ = 0;  // the "$ argv…" line written before the child's output
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace mpegcast::test
