#include "shared_listener.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "connection_limit.h"
#include "log.h"
#include "relay_state.h"

namespace mpegcast::relay {

class SharedListener {
 public:
  SharedListener(RelayState& relay, lws_vhost* viewers) : relay_(relay), viewers_(viewers) {}
  ~SharedListener() {
    if (wsi_) {
      lws_set_opaque_user_data(wsi_, nullptr);
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    } else if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  bool open(const ListenAddress& a, lws_vhost* accept_vhost) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const std::string host = a.host.empty() ? "0.0.0.0" : a.host;
    if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss); inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(a.port));
      len = sizeof *v4;
    } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss); inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(a.port));
      len = sizeof *v6;
    } else {
      LOG_ERR("reuse_port: listen address \"%s\" is not a numeric IPv4 or IPv6 address", host.c_str());
      return false;
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (fd_ < 0 || setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, 1024) != 0) {
      LOG_ERR("reuse_port: cannot listen on %s:%d: %s", host.c_str(), a.port, std::strerror(errno));
      return false;
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    lws_sock_file_fd_type desc{};
    desc.filefd = fd_;
    wsi_ = lws_adopt_descriptor_vhost(accept_vhost, LWS_ADOPT_RAW_FILE_DESC, desc, "mpegcast-accept", nullptr);
    if (!wsi_) {
      LOG_ERR("reuse_port: cannot watch the listening socket");
      return false;
    }
    lws_set_opaque_user_data(wsi_, this);
    return true;
  }

  /// The listening socket is readable: accept what is waiting (a bounded batch per wake).
  void accept_ready() {
    for (int i = 0; i < 64; ++i) {
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
          LOG_WARN("reuse_port: accept: %s", std::strerror(errno));  // e.g. EMFILE: the limits leave a reserve
        }
        return;
      }
      if (!admit_accepted(relay_, fd) || !lws_adopt_socket_vhost(viewers_, fd)) ::close(fd);
    }
  }

  int port() const { return port_; }

 private:
  RelayState& relay_;
  lws_vhost* viewers_;
  int fd_ = -1;
  int port_ = 0;
  lws* wsi_ = nullptr;
};

void SharedListenerDeleter::operator()(SharedListener* l) const { std::default_delete<SharedListener>()(l); }

SharedListenerPtr open_shared_listener(RelayState& relay, const ListenAddress& address, lws_vhost* accept_vhost,
                                       lws_vhost* viewers) {
  SharedListenerPtr l(new SharedListener(relay, viewers));
  if (!l->open(address, accept_vhost)) return nullptr;
  return l;
}

int shared_listener_port(const SharedListener& l) { return l.port(); }

namespace {
int accept_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* /*in*/, size_t /*len*/) {
  if (reason == LWS_CALLBACK_RAW_RX_FILE) {
    if (auto* l = static_cast<SharedListener*>(lws_get_opaque_user_data(wsi))) l->accept_ready();
  }
  return 0;
}
}  // namespace

const lws_protocols& shared_listener_protocol() {
  static const lws_protocols p = {"mpegcast-accept", accept_callback, 0, 0, 0, nullptr, 0};
  return p;
}

}  // namespace mpegcast::relay
