// A C++ session object living in libwebsockets' per-session storage (zeroed raw memory that
// lws allocates per connection): constructed when the connection becomes one, destroyed on close.
#pragma once
#include <new>
#include <utility>

namespace mpegcast::relay {

/// Use `sizeof(PssSlot<T>)` as the protocol's per_session_data_size and cast `user` to it.
/// lws zeroes the storage, so a slot starts empty and destroy() on a never-constructed slot is safe.
template <class T>
struct PssSlot {
  bool alive;
  alignas(T) unsigned char storage[sizeof(T)];

  /// The session, or nullptr before make() / after destroy().
  T* get() { return alive ? std::launder(reinterpret_cast<T*>(storage)) : nullptr; }
  template <class... Args>
  T* make(Args&&... args) {
    destroy();
    T* t = new (storage) T(std::forward<Args>(args)...);
    alive = true;
    return t;
  }
  void destroy() {
    if (alive) get()->~T();
    alive = false;
  }
};

}  // namespace mpegcast::relay
