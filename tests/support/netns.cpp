#include "netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "process.h"

extern char** environ;

namespace mpegcast::test {
namespace {

constexpr const char* kPrefix = "mct";  // mpegcast test: "mct<pid>-<tag>"

std::string commands_log() { return test_log_dir() + "/netns-commands.log"; }

bool on_path(const std::string& tool) {
  return run_command({"sh", "-c", "command -v " + tool}) == 0;
}

/// False when `pid` is gone or a zombie (a killed test process whose parent has not reaped it yet).
bool process_alive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

/// Deletes namespaces "mct<pid>-…" whose test process is gone.
void delete_stale_namespaces() {
  DIR* d = ::opendir("/run/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind(kPrefix, 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(n.c_str() + std::strlen(kPrefix)));
    if (pid > 0 && !process_alive(pid)) stale.push_back(n);
  }
  ::closedir(d);
  for (const std::string& n : stale) {
    BOOST_TEST_MESSAGE("deleting namespace " << n << " left behind by a test process that died");
    run_command({"ip", "netns", "del", n});
  }
}

}  // namespace

int run_command(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string log = commands_log();
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  {
    std::string line = "$";
    for (const std::string& a : argv) line += " " + a;
    line += "\n";
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return 127;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void must_run(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& a : argv) line += (line.empty() ? "" : " ") + a;
  BOOST_TEST_REQUIRE(run_command(argv) == 0, "failed: " << line << " (see " << commands_log() << ")");
}

std::string command_output(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) out.append(buf, static_cast<size_t>(n));
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  ::close(fds[0]);
  return out;
}

std::string netns_unavailable(const std::vector<std::string>& tools) {
  if (::geteuid() != 0) return "not root (network namespaces, veth pairs and qdiscs need CAP_NET_ADMIN / CAP_SYS_ADMIN)";
  if (!on_path("ip")) return "no `ip` command (Debian package iproute2)";
  for (const std::string& t : tools) {
    if (!on_path(t)) return "no `" + t + "` command (see scripts/install-deps.sh)";
  }
  const std::string probe = std::string(kPrefix) + std::to_string(::getpid()) + "-probe";
  if (run_command({"ip", "netns", "add", probe}) != 0) return "`ip netns add` failed (see " + commands_log() + ")";
  run_command({"ip", "netns", "del", probe});
  return "";
}

NetNamespace::NetNamespace(const std::string& tag) : name_(kPrefix + std::to_string(::getpid()) + "-" + tag) {
  delete_stale_namespaces();
  run_command({"ip", "netns", "del", name_});  // a leftover of this very pid (a rerun after pid reuse)
  must_run({"ip", "netns", "add", name_});
  must_run({"ip", "-n", name_, "link", "set", "lo", "up"});
}

NetNamespace::~NetNamespace() { run_command({"ip", "netns", "del", name_}); }

std::vector<std::string> NetNamespace::exec(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
  return argv;
}

VethLink::VethLink(const NetNamespace& a, const NetNamespace& b, int subnet) : a_ns(a.name()), b_ns(b.name()) {
  // Interface names have at most 15 bytes: "mc" + pid (≤ 7 digits) + "s" + subnet + "a"/"b".
  const std::string base = "mc" + std::to_string(::getpid()) + "s" + std::to_string(subnet);
  a_if = base + "a";
  b_if = base + "b";
  const std::string net = "198.18." + std::to_string(subnet) + ".";
  a_addr = net + "1";
  b_addr = net + "2";
  must_run({"ip", "link", "add", a_if, "netns", a_ns, "type", "veth", "peer", "name", b_if, "netns", b_ns});
  must_run({"ip", "-n", a_ns, "addr", "add", a_addr + "/30", "dev", a_if});
  must_run({"ip", "-n", b_ns, "addr", "add", b_addr + "/30", "dev", b_if});
  // One wire-sized packet per TCP segment, as on a real link: a veth otherwise passes 64 KiB GSO
  // packets, so a 3 % drop rule in nftables would hit one packet in ~40 segments' worth.
  must_run({"ip", "-n", a_ns, "link", "set", a_if, "gso_max_segs", "1", "up"});
  must_run({"ip", "-n", b_ns, "link", "set", b_if, "gso_max_segs", "1", "up"});
}

NetnsScope::NetnsScope(const std::string& name) {
  if (name.empty()) return;
  home_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_fd_ < 0) throw std::runtime_error(std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno));
  const int fd = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    ::close(home_fd_);
    throw std::runtime_error("entering network namespace " + name + ": " + std::strerror(err));
  }
  ::close(fd);
}

NetnsScope::~NetnsScope() {
  if (home_fd_ < 0) return;
  (void)::setns(home_fd_, CLONE_NEWNET);
  ::close(home_fd_);
}

}  // namespace mpegcast::test
