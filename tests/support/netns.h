// Network namespaces for tests (root only): a namespace per "box", veth pairs as the links between
// them, a qdisc or an nftables table on a link to make it slow or lossy, and a scope that lets the
// test process itself open sockets inside a namespace (a viewer on that box's loopback).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mpegcast::test {

/// Why namespaced tests cannot run here ("" when they can): not root, no `ip`, `ip netns add`
/// refused (e.g. inside a container without CAP_SYS_ADMIN), or a tool in `tools` missing.
std::string netns_unavailable(const std::vector<std::string>& tools = {});

/// Runs `argv` (PATH lookup) and waits; its output goes to test-logs/netns-commands.log. Returns
/// the exit status (127 when it could not be started).
int run_command(const std::vector<std::string>& argv);
/// run_command, REQUIRE-ing exit status 0.
void must_run(const std::vector<std::string>& argv);
/// What `argv` printed on stdout (empty when it failed to start).
std::string command_output(const std::vector<std::string>& argv);

/// A network namespace named "mct<pid>-<tag>" with its loopback up; deleted on destruction.
/// Namespaces left behind by a test process that died (SIGKILL, ctest timeout) are deleted when the
/// next one is created, so a run never leaks more than until the next run.
class NetNamespace {
 public:
  explicit NetNamespace(const std::string& tag);
  ~NetNamespace();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;
  const std::string& name() const { return name_; }
  /// `ip netns exec NAME` followed by `argv`: how a program is started inside.
  std::vector<std::string> exec(std::vector<std::string> argv) const;

 private:
  std::string name_;
};

/// A veth pair between two namespaces, each end with an address of a /30 of 198.18.0.0/15 (the
/// benchmarking range, RFC 2544): 198.18.<subnet>.1 in `a`, .2 in `b`. Interface names are unique
/// per run; the pair goes away with either namespace. GSO is off (one wire-sized packet per TCP
/// segment), so qdiscs and nftables rules see packets as on a real link.
struct VethLink {
  VethLink(const NetNamespace& a, const NetNamespace& b, int subnet);
  std::string a_ns, b_ns, a_if, b_if, a_addr, b_addr;
};

/// While alive, the calling thread is in network namespace `name` ("" = stay where it is): sockets
/// it opens belong to that namespace for good, e.g. a test viewer on that namespace's loopback.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& name);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int home_fd_ = -1;
};

}  // namespace mpegcast::test
