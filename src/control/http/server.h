// The control plane's HTTP server: Beast + Asio coroutines behind a Boost-free interface.
//
// Each request goes: read header (header timeout) → route (404/405) → authenticate and authorize
// (401/403) → rate limit per token and per node id (429 + Retry-After) → body limit (413 before
// the body is read) → read body (body timeout) → handler on the handler pool → response with
// x-request-id and x-populi-wire-version. Keep-alive connections idle past idle_timeout_ms are
// closed. Every request is logged once (request id, principal label, route, status, duration);
// credentials never are.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "control/http/auth.h"
#include "control/http/http.h"
#include "obs/span.h"
#include "util/status.h"

namespace spdlog {
class logger;
}

namespace populi::http {

// One finished request, as the access log records it (ServerOptions::on_request_done).
struct RequestRecord {
  std::string_view route;  // the route's name; "-" when no route matched
  Method method = Method::kGet;
  int status = 0;  // 200 for an event stream, reported when its head is written
  double duration_ms = 0;
  // Why the server refused it before its handler: "rate_limit" (per token / node id),
  // "auth" (401 or 403), "auth_lockout" (a source address over its failed-authentication
  // budget); empty otherwise.
  std::string_view refusal;
  std::string_view principal;  // the token's label, never the secret; empty when anonymous
  std::string_view remote_ip;
};

// A request refused for its credential or its role (ServerOptions::on_auth_refused).
struct AuthRefusal {
  std::string remote_ip;
  int status = 0;           // 401 or 403
  std::string route;        // the route's name ("admin.quarantine")
  std::string token_label;  // empty when no credential was accepted
};

struct ServerOptions {
  std::string bind = "127.0.0.1:9847";         // HOST:PORT; port 0 picks a free port
  size_t max_header_bytes = 16 * 1024;         // larger → 431
  size_t default_max_body_bytes = 512 * 1024;  // for routes whose max_body_bytes is 0
  int header_timeout_ms = 10'000;              // whole request header, from its first byte
  int body_timeout_ms = 30'000;                // whole request body
  int idle_timeout_ms = 60'000;                // keep-alive wait for the next request
  int write_timeout_ms = 30'000;               // whole response
  int max_connections = 1024;                  // more → 503 and close
  int io_threads = 2;
  int handler_threads = 64;
  double rate_per_sec = 0;  // per token label and per x-vox-node-id; 0 disables
  double rate_burst = 0;    // bucket size; 0 → 2 × rate_per_sec
  // Failed authentication (any 401 answer, bootstrap guesses included) per source address:
  // past the burst, that address gets 429 with Retry-After on every route but /health until
  // its bucket refills. A rate of 0 disables it.
  double auth_failure_rate_per_sec = 0.2;
  double auth_failure_burst = 20;
  // Called (from an I/O thread; must not block) when a source address is first locked out.
  std::function<void(const std::string& remote_ip)> on_auth_lockout;
  // Audit hooks (docs/audit.md), both called from an I/O thread: they must not block. A refused
  // request: a 401 (no valid credential, a wrong bootstrap token) or a 403 (a role the route
  // does not allow); `token_label` is the credential's label, never the credential.
  std::function<void(const AuthRefusal& refusal)> on_auth_refused;
  // Every request that authenticated with a credential and passed its route's roles; keep it
  // cheap (it runs once per such request).
  std::function<void(const Principal& principal)> on_authenticated;
  // Called (from an I/O thread; must not block) when the client of a waiting long-poll with a
  // LongPoll::holder closes its connection before the poll's deadline. A close after the
  // deadline is not reported: that client gave up on a server that had stopped answering.
  std::function<void(const std::string& node_id)> on_long_poll_dropped;
  // Every answered request is a server span recorded here (null: none are recorded); it must
  // outlive the server. Record() runs on an I/O thread, so it must not block.
  obs::SpanSink* spans = nullptr;
  // Called (from an I/O thread; must not block) once per finished request, where its access
  // log line is written: metrics and refusal events hook in here.
  std::function<void(const RequestRecord&)> on_request_done;
  std::string tls_cert_path;  // both set → HTTPS (PEM files)
  std::string tls_key_path;
  std::string tls_min_version = "1.3";  // "1.2" or "1.3": older handshakes are refused
  int shutdown_grace_ms = 5'000;        // Stop() waits this long for in-flight requests
  int sse_keepalive_ms = 15'000;        // comment line on idle event streams (detects gone clients)
};

class Server {
 public:
  // Binds, starts the I/O and handler threads, and returns once accepting. `router` is copied;
  // `auth` must outlive the server. `logger` null → spdlog's default logger. A port in use is
  // kUnavailable with a message naming the port and what to do.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, const Router& router,
                                               const Authenticator& auth,
                                               std::shared_ptr<spdlog::logger> logger = nullptr);
  ~Server();  // Stop() + Wait()

  // "http://127.0.0.1:PORT" (https when TLS is on), with the bound port.
  std::string url() const;
  int port() const;
  // Wakes long-polls and event streams waiting on a topic. Thread-safe.
  Notifier& notifier();

  // Stops accepting, lets in-flight requests finish for up to shutdown_grace_ms (long-polls
  // answer at once with their on_timeout, event streams end), then closes what is left and
  // joins the threads. Idempotent; thread-safe.
  void Stop();
  // Blocks until Stop() has completed (from any thread).
  void Wait();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace populi::http
