#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/framework.hpp>
#include <boost/test/results_collector.hpp>
#include <boost/test/tree/test_unit.hpp>
#include <boost/test/unit_test_log.hpp>
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "sanitizer.h"

#ifndef MPEGCAST_BINARY_DIR
#define MPEGCAST_BINARY_DIR "."
#endif

namespace mpegcast::test {
namespace {

std::string current_test_name() {
  namespace utf = boost::unit_test;
  if (!utf::framework::test_in_progress()) return "global";
  std::string n = utf::framework::current_test_case().full_name();
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return n;
}

bool current_test_failed() {
  namespace utf = boost::unit_test;
  if (!utf::framework::test_in_progress()) return false;
  return !utf::results_collector.results(utf::framework::current_test_case().p_id).passed();
}

std::string tail_lines(const std::string& text, size_t lines) {
  size_t pos = text.size();
  size_t found = 0;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    if (nl + 1 < text.size() && ++found > lines) {
      pos = nl + 1;
      break;
    }
    pos = nl;
  }
  return text.substr(pos);
}

}  // namespace

std::string test_log_dir() {
  std::string dir = std::string(MPEGCAST_BINARY_DIR) + "/test-logs";
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

Process::Process(std::string name, std::vector<std::string> argv) : name_(std::move(name)) {
  if (argv.empty()) throw std::invalid_argument("Process: empty argv");
  log_path_ = test_log_dir() + "/" + current_test_name() + "-" + name_ + ".log";
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("Process: open " + log_path_ + ": " + std::strerror(errno));
  {
    std::string cmd = "$";
    for (auto& a : argv) cmd += " " + a;
    cmd += "\n";
    (void)!::write(log_fd, cmd.data(), cmd.size());
    header_size_ = cmd.size();
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(log_fd);
    throw std::runtime_error(std::string("Process: fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    ::setpgid(0, 0);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    const char* err = std::strerror(errno);
    (void)!::write(STDERR_FILENO, "exec failed: ", 13);
    (void)!::write(STDERR_FILENO, err, std::strlen(err));
    (void)!::write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  ::close(log_fd);
  program_ = argv[0];
  pid_ = pid;
  BOOST_TEST_MESSAGE("started " << name_ << " (pid " << pid_ << "), log: " << log_path_);
}

Process::~Process() {
  try {
    stop();
    if (current_test_failed()) {
      BOOST_TEST_MESSAGE("test failed; log of " << name_ << ": " << log_path_ << "\n--- last lines ---\n"
                                                << tail_lines(log_text(), 25) << "---");
    }
  } catch (...) {
  }
}

bool Process::reap(bool block) {
  if (pid_ < 0) return true;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r == pid_) {
    if (WIFEXITED(st)) exit_status_ = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) exit_status_ = 128 + WTERMSIG(st);
  }
  pid_ = -1;
  return true;
}

bool Process::running() { return pid_ >= 0 && !reap(false); }

int Process::stop(int grace_ms) {
  if (!running()) return exit_status_;
  ::kill(pid_, SIGTERM);
  // A sanitized program checks for leaks, and symbolizes any report, on its way out.
  grace_ms = static_cast<int>(sanitizer_scaled(grace_ms, 3));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(false)) return exit_status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST_MESSAGE(name_ << " (pid " << pid_ << ") ignored SIGTERM for " << grace_ms << " ms; sending SIGKILL");
  // Our programs must end on SIGTERM: killed, they never run LeakSanitizer, so a leak would go unseen.
  const bool ours = program_.find("/mpegcast-") != std::string::npos;
  if (sanitizer_build() && ours) BOOST_ERROR(name_ << " ignored SIGTERM: LeakSanitizer could not check it");
  return kill_hard();
}

int Process::kill_hard() {
  if (!running()) return exit_status_;
  ::kill(pid_, SIGKILL);
  reap(true);
  return exit_status_;
}

std::string Process::log_text() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Process::log_size() const {
  struct stat st {};
  return ::stat(log_path_.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

bool Process::wait_for_log(const std::string& pattern, int timeout_ms, size_t from_offset) {
  const std::regex re(pattern, std::regex::ECMAScript);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t scanned = std::max(from_offset, header_size_);  // start of the first line not yet matched completely
  while (true) {
    const bool alive = running();  // check before reading, so a final line is not missed
    std::string text = log_text();
    while (scanned < text.size()) {
      size_t nl = text.find('\n', scanned);
      const bool complete = nl != std::string::npos;
      std::string line = text.substr(scanned, complete ? nl - scanned : std::string::npos);
      if (std::regex_search(line, re)) return true;
      if (!complete) break;
      scanned = nl + 1;
    }
    if (!alive) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace mpegcast::test
