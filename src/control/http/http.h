// The plain request/response types every route handler uses. Boost.Asio/Beast stay inside the
// server's translation units (control/http/server*.cc); handlers never see them.
//
// Threading contract: handlers are ordinary blocking functions. The server runs them on a
// handler thread pool, never on an I/O thread, so a handler may block on a store write (group
// commit batches the writes of concurrent handlers). Waiting for something to happen is not
// done by blocking: a handler returns a Response with `long_poll` set and the server re-runs the
// poll function when its topic is notified or the deadline passes (timers, not sleeping threads).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/trace_context.h"
#include "util/status.h"

namespace populi::http {

enum class Method { kGet, kPost, kPut, kDelete, kOther };
std::string_view ToString(Method m);

// Token roles (docs/auth.md has the route × role matrix).
//   admin      everything
//   mesh       the shared mesh token: node plane + deliver + submit + reads
//   worker     node plane: join, heartbeat, leave, inbox/claim/ack/renew, exec leases, results
//   submitter  deliver, submit/cancel tasks, reads
//   read_only  GET routes only
enum class Role { kReadOnly, kSubmitter, kWorker, kMesh, kAdmin };
std::string_view ToString(Role r);
Result<Role> ParseRole(std::string_view s);

// Who is calling. `anonymous` only on routes with no required role (e.g. /health) or when the
// server runs with no credentials configured at all (a private single-box mesh).
struct Principal {
  bool anonymous = true;
  Role role = Role::kReadOnly;
  std::string token_label;  // "admin", "jwt:<jti>"… — safe to log, never the secret
};

struct Request {
  Method method = Method::kGet;
  std::string target;                         // raw request target, path + query
  std::string path;                           // percent-decoded path
  std::map<std::string, std::string> query;   // decoded query parameters (last wins)
  std::map<std::string, std::string> params;  // path parameters from the route pattern ("{id}")
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;  // the client's x-request-id if valid, else generated
  std::string remote_addr;
  Principal principal;
  // This request's server span: a child of the caller's `traceparent` (kept in `trace_parent`,
  // invalid when absent or malformed), else a new root. Handlers pass `trace` on to the work
  // they start (a task, a message) so later hops join the same trace.
  obs::TraceContext trace;
  obs::TraceContext trace_parent;

  // First header with this (case-insensitive) name, or empty.
  std::string_view Header(std::string_view name) const;
};

struct Request;
struct Response;
class Completion;

// A deferred answer: poll() returns the response once it is ready, else nullopt. The server
// calls it first at once, then whenever `topic` is notified, and for the last time at
// deadline_ms (monotonic clock), when `on_timeout` answers instead if poll() still has nothing.
struct LongPoll {
  std::string topic;
  int64_t deadline_ms = 0;
  // Set: this request is the held connection of node `holder` (its agent's long-poll). When the
  // client closes the connection before deadline_ms while the server waits, the server reports
  // it (ServerOptions::on_long_poll_dropped) and answers nothing.
  std::string holder;
  // Set: when the client closes the connection while the server waits, the wait ends at once
  // and nothing is answered; the poll (and what its functions hold) is released then, not at
  // deadline_ms. For a wait whose end cancels work (an inference request's engine call).
  bool end_when_dropped = false;
  std::function<std::optional<Response>()> poll;
  std::function<Response()> on_timeout;
};

// A server-sent event stream: next() returns the events after `cursor` (advancing it) as
// formatted "data: …\n\n" text, empty when none; the server waits on `topic` between calls and
// ends the stream when next() returns nullopt or the client goes away.
struct EventStream {
  std::string topic;
  std::function<std::optional<std::string>(int64_t& cursor)> next;
  int64_t cursor = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::shared_ptr<LongPoll> long_poll;                       // set → deferred
  std::shared_ptr<EventStream> stream;                       // set → text/event-stream
  std::shared_ptr<Completion> completion;                    // set → answered through it
  // Set by a handler that ran on the I/O thread (Route::runs_inline) for the part that may wait
  // or take long: the server runs it on the handler pool, and its response replaces this one.
  std::function<Response(Request&)> on_pool;

  Response& SetHeader(std::string name, std::string value);
};

// An answer another thread supplies later, typically a store write's completion: the handler
// starts the work, returns Deferred(completion) at once, and no thread waits for the commit.
// Complete() must be called exactly once, from any thread; later calls are ignored. The server
// writes that response; if the server stopped meanwhile, the response is dropped.
class Completion {
 public:
  Completion();
  ~Completion();
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  void Complete(Response response);
  // Server side: `resume` gets the response, at once (on this thread) when Complete already
  // ran, else on the thread that calls Complete.
  void OnComplete(std::function<void(Response)> resume);

 private:
  std::mutex mu_;
  bool completed_ = false;
  std::unique_ptr<Response> result_;  // held until OnComplete
  std::function<void(Response)> resume_;
};

// A response whose content `completion` will supply.
Response Deferred(std::shared_ptr<Completion> completion);
// From a handler running on the I/O thread: finish the request with `rest` on the handler pool.
Response ContinueOnPool(std::function<Response(Request&)> rest);

// Error body: {"error":{"code","message","hint","request_id"}} with the status mapped from the
// code (kInvalidArgument 400, kUnauthenticated 401, kPermissionDenied 403, kNotFound 404,
// kConflict/kAlreadyExists/kFailedPrecondition 409, kGone 410, kTooLarge 413,
// kResourceExhausted 429, kInternal 500, kUnavailable/kStoreIo 503, kTimeout 504,
// kStoreFull 507).
int HttpStatusFor(Code code);
Response ErrorResponse(const Status& status, std::string_view request_id);
// 200 (or `status`) with a JSON body already serialized by the caller.
Response JsonResponse(std::string body, int status = 200);
Response NoContent();  // 204

using Handler = std::function<Response(Request&)>;

struct Route {
  Method method = Method::kGet;
  std::string pattern;      // "/v1/populi/tasks/{id}"; segments in braces are parameters
  std::vector<Role> roles;  // roles allowed; empty = open (no credential needed)
  size_t max_body_bytes = 64 * 1024;
  std::string name;  // stable id for logs/metrics/openapi ("tasks.get")
  Handler handler;
  // The handler runs on the I/O thread that read the request instead of hopping to the handler
  // pool and back: liveness probes stay answered while every pool thread is busy, and the hot
  // A2A routes cost two thread switches less. Such a handler must never wait — no store reads,
  // no Write(); in-memory lookups, CountPending and SubmitWrite (answered through a Completion)
  // are fine — and must stay short; it hands anything else to the pool with ContinueOnPool().
  bool runs_inline = false;
  // Node liveness (join, heartbeat, leave): never rate limited, so no other client's traffic
  // on a shared token can get a healthy node marked down. The handlers are cheap by contract.
  bool liveness = false;
  // False: a request records its server span only when the caller sent a `traceparent`, i.e.
  // someone is tracing it. For probes (load balancers' /health, scrapers' /metrics) whose
  // one-span traces would otherwise crowd the span store out of the traces that matter.
  bool traced = true;
};

// Routes by method and path pattern. Registration happens before the server starts.
class Router {
 public:
  void Add(Route route);
  // The route for (method, path) with its parameters filled, or nullptr. *path_exists is set
  // when some route has this path with another method (→ 405 instead of 404).
  const Route* Match(Method method, std::string_view path,
                     std::map<std::string, std::string>* params, bool* path_exists) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Pattern {
    std::vector<std::string> segments;  // the route's pattern split at '/', once, on Add
    int literals = 0;                   // segments that are not {parameters}
  };
  std::vector<Route> routes_;
  std::vector<Pattern> patterns_;  // patterns_[i] belongs to routes_[i]
};

// Wakes long-polls and event streams waiting on a topic ("inbox:<receiver>", "task:<id>",
// "events"). Implemented by the server; handlers get it from their group's wiring. Never blocks.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Notify(std::string_view topic) = 0;
  // Wakes every waiter on every topic once (announcements may have been missed); each re-polls.
  virtual void NotifyAll() = 0;
};

}  // namespace populi::http
