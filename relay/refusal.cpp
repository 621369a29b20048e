#include "refusal.h"

namespace mpegcast::relay {

const RefusalAnswer& answer(Refusal r) {
  // 1008 Policy Violation, 1013 Try Again Later (RFC 6455 §7.4.1 and the IANA registry); 4404 is
  // in the private range (4000–4999) and mirrors HTTP 404, as the player understands it.
  static const RefusalAnswer kBadRequest{400, "Bad Request", 1008, "malformed request"};
  static const RefusalAnswer kMethod{405, "Method Not Allowed", 1008, "method not allowed"};
  static const RefusalAnswer kBody{400, "Bad Request", 1008, "request body not allowed here"};
  static const RefusalAnswer kUpgrade{400, "Bad Request", 1008, "only WebSocket upgrades are served"};
  static const RefusalAnswer kVersion{505, "HTTP Version Not Supported", 1008, "HTTP/1.x only"};
  static const RefusalAnswer kHead{431, "Request Header Fields Too Large", 1009, "request head larger than max_header_bytes"};
  static const RefusalAnswer kNotFound{404, "Not Found", 1008, "not found"};
  static const RefusalAnswer kName{404, "Not Found", 1008, "stream name must match [A-Za-z0-9_-]{1,64}"};
  static const RefusalAnswer kNoStream{404, "Not Found", 4404, "no such stream"};
  static const RefusalAnswer kForbidden{403, "Forbidden", 1008,
                                        "wrong or missing secret (publishing without one is allowed from loopback only)"};
  static const RefusalAnswer kBusy{409, "Conflict", 1008, "stream already has a publisher"};
  static const RefusalAnswer kLoop{508, "Loop Detected", 1008, "cascade loop or too many hops"};
  static const RefusalAnswer kStreams{503, "Service Unavailable", 1013, "too many streams"};
  static const RefusalAnswer kViewers{503, "Service Unavailable", 1013, "too many viewers on this relay"};
  static const RefusalAnswer kFull{503, "Service Unavailable", 1013, "too many viewers on this stream"};
  static const RefusalAnswer kFlood{400, "Bad Request", 1008, "viewer flood"};
  switch (r) {
    case Refusal::bad_request: return kBadRequest;
    case Refusal::method_not_allowed: return kMethod;
    case Refusal::body_not_allowed: return kBody;
    case Refusal::upgrade_not_supported: return kUpgrade;
    case Refusal::version_not_supported: return kVersion;
    case Refusal::head_too_large: return kHead;
    case Refusal::not_found: return kNotFound;
    case Refusal::bad_stream_name: return kName;
    case Refusal::no_such_stream: return kNoStream;
    case Refusal::forbidden: return kForbidden;
    case Refusal::stream_busy: return kBusy;
    case Refusal::loop_detected: return kLoop;
    case Refusal::too_many_streams: return kStreams;
    case Refusal::too_many_viewers: return kViewers;
    case Refusal::stream_full: return kFull;
    case Refusal::flood: return kFlood;
  }
  return kBadRequest;
}

Refusal refusal_of(HubError e) {
  switch (e) {
    case HubError::bad_name: return Refusal::bad_stream_name;
    case HubError::stream_busy: return Refusal::stream_busy;
    case HubError::too_many_streams: return Refusal::too_many_streams;
    case HubError::too_many_subscribers: return Refusal::too_many_viewers;
    case HubError::stream_full: return Refusal::stream_full;
    case HubError::none: break;
  }
  return Refusal::bad_request;
}

}  // namespace mpegcast::relay
