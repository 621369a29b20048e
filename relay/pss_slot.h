// A C++ session object living in libwebsockets' per-session storage (zeroed raw memory that
// lws allocates per connection): constructed when the connection becomes one, destroyed when lws
// is done with the storage.
//
// lws frees or reuses that storage in more places than the close callbacks: it unbinds the
// protocol (…_DROP_PROTOCOL, then frees the storage) when a kept-alive HTTP connection starts its
// next request, when a connection falls back to another role, and on close before the close
// callback. A session that outlives its storage is a use-after-free the moment anything still
// points at it (the hub's subscriber owner, a publisher owner), so every callback that keeps a
// session here ends it at the first of these events: see session_ends().
#pragma once
#include <libwebsockets.h>

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

/// True for the callbacks after which lws may free or reuse `wsi`'s per-session storage: the
/// close callbacks, every protocol unbind (…_DROP_PROTOCOL: lws frees the storage right after
/// it), and LWS_CALLBACK_WSI_DESTROY (the last callback of a connection; lws delivers it to the
/// vhost's protocols[0] with the storage of whatever protocol is bound, so it counts only when
/// that protocol's callback is `own_callback`). A session must be ended (its close bookkeeping
/// done, then PssSlot::destroy) at the first of these; later ones find the slot empty.
inline bool session_ends(lws* wsi, lws_callback_reasons reason, lws_callback_function* own_callback) {
  switch (reason) {
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
    case LWS_CALLBACK_RAW_SKT_DROP_PROTOCOL:
      return true;
    case LWS_CALLBACK_WSI_DESTROY: {
      const lws_protocols* bound = lws_get_protocol(wsi);
      return bound && bound->callback == own_callback;
    }
    default:
      return false;
  }
}

}  // namespace mpegcast::relay
