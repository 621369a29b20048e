#include "resolver.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <sys/socket.h>

#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace mpegcast::relay {
namespace {

struct Request {
  Resolver::Done done;
};

struct Finished {
  std::weak_ptr<Request> request;
  std::string address, error;
};

struct AddrinfoDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

/// getaddrinfo() for `host`: the first address as text, or the error.
void lookup(const std::string& host, std::string& address, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, AddrinfoDeleter> res(raw);
  char text[INET6_ADDRSTRLEN] = "";
  if (rc == 0 && res && res->ai_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(res->ai_addr)->sin_addr, text, sizeof text);
    address = text;
  } else if (rc == 0 && res && res->ai_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(res->ai_addr)->sin6_addr, text, sizeof text);
    address = text;
  } else {
    error = rc != 0 ? gai_strerror(rc) : "no address";
  }
}

}  // namespace

/// What the helper threads share with the resolver (they may outlive it).
struct Resolver::Shared {
  std::mutex mu;
  lws_context* context = nullptr;  // null once the resolver is gone: nobody to wake
  std::vector<Finished> finished;

  void finish(Finished f) {
    std::lock_guard<std::mutex> lock(mu);
    finished.push_back(std::move(f));
    if (context) lws_cancel_service(context);  // under the lock: the context outlives the resolver
  }
};

Resolver::Resolver(lws_context* context) : shared_(std::make_shared<Shared>()) { shared_->context = context; }

Resolver::~Resolver() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->context = nullptr;
  shared_->finished.clear();
}

bool Resolver::is_numeric(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

Resolver::Ticket Resolver::resolve(const std::string& host, Done done) {
  auto request = std::make_shared<Request>();
  request->done = std::move(done);
  std::weak_ptr<Request> weak = request;
  if (is_numeric(host)) {
    shared_->finish(Finished{weak, host, ""});
    return request;
  }
  try {
    std::thread([shared = shared_, weak, host] {
      Finished f{weak, "", ""};
      lookup(host, f.address, f.error);
      shared->finish(std::move(f));
    }).detach();
  } catch (const std::system_error& e) {
    shared_->finish(Finished{weak, "", std::string("cannot start a resolver thread: ") + e.what()});
  }
  return request;
}

void Resolver::deliver() {
  std::vector<Finished> ready;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    ready.swap(shared_->finished);
  }
  for (Finished& f : ready) {
    if (std::shared_ptr<Request> r = f.request.lock()) r->done(f.address, f.error);
  }
}

}  // namespace mpegcast::relay
