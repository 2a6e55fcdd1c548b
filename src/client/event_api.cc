// ControlPlaneApi's event calls: a filtered page, and the resumable server-sent stream.
#include <algorithm>
#include <chrono>
#include <thread>

#include "client/api_call.h"
#include "client/control_plane_api.h"
#include "mesh/replies_json.h"

namespace populi::client {
namespace {

using internal::Escape;

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 5'000;

std::string EventsPath(const EventQuery& q, bool with_limit) {
  std::string path = "/v1/populi/events?after=" + std::to_string(q.after);
  if (with_limit) path += "&limit=" + std::to_string(q.limit);
  if (!q.kind.empty()) path += "&kind=" + Escape(q.kind);
  if (!q.node.empty()) path += "&node=" + Escape(q.node);
  return path;
}

// Refusals and a request the server will never accept: reconnecting cannot help.
bool Final(const Status& s) {
  return s.code() == Code::kUnauthenticated || s.code() == Code::kPermissionDenied ||
         s.code() == Code::kInvalidArgument || s.code() == Code::kNotFound;
}

}  // namespace

Result<mesh::EventPage> ControlPlaneApi::Events(const EventQuery& query, CallOptions options) {
  return internal::Call<mesh::EventPage>(*http_, "GET", EventsPath(query, true), {},
                                         Timeout(options), mesh::EventPageFromJson);
}

Status ControlPlaneApi::FollowEvents(const EventQuery& query,
                                     const std::function<bool(const mesh::Event&)>& on_event) {
  int64_t last = query.after;
  int backoff_ms = kFirstBackoffMs;
  for (;;) {
    bool stop = false;
    Status unreadable = Status::Ok();
    EventQuery from = query;
    from.after = last;
    // Last-Event-ID is what the server resumes from; ?after= says the same for a first call.
    const HeaderList resume{{"Last-Event-ID", std::to_string(last)}};
    const Status streamed = http_->StreamEvents(
        EventsPath(from, false),
        [&](const SseEvent& sse) {
          if (sse.id.empty() || sse.data.empty()) return true;  // keep-alives, comments
          auto doc = mesh::ParseJson(sse.data, 16);
          auto event = doc.ok() ? mesh::EventFromJson(*doc) : Result<mesh::Event>(doc.status());
          if (!event.ok()) {
            unreadable = event.status();
            return false;
          }
          if (event->id <= last) return true;  // already delivered before a reconnect
          last = event->id;
          backoff_ms = kFirstBackoffMs;
          if (!on_event(*event)) {
            stop = true;
            return false;
          }
          return true;
        },
        /*timeout_ms=*/0, resume);
    if (stop) return Status::Ok();
    if (!unreadable.ok()) {
      return internal::MalformedReply(base_url(), "GET /v1/populi/events", unreadable);
    }
    if (!streamed.ok() && Final(streamed)) return streamed;
    // Dropped, refused for now, or ended by the server (a restart): resume after a pause.
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
  }
}

}  // namespace populi::client
