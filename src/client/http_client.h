// The control plane's HTTP client: what the CLI, the node agent and the tests use. Its transport
// (client/connection.h) is Beast over Asio, the library the server already links, so a node agent
// loads no HTTP library of its own (an idle agent's memory is mostly shared-library pages).
//
// One HttpClient keeps one connection alive between calls (keep-alive reuse). Calls on one
// client are serialized by an internal mutex; use one client per thread for parallel calls.
//
// Replicas: the base URL may list several control planes on one store, separated by commas
// ("http://cp1:7070,http://cp2:7070"). Calls go to the current one; when it is unreachable or
// times out, the call moves on to the next (each at most once per call) and later calls stay
// there. A request is repeated at another replica only when that cannot run it twice: an
// idempotent one (GET, PUT, DELETE, or carrying an idempotency-key header), or one that failed
// before any byte of it was sent (refused connection, failed TLS handshake).
// Errors come back as Status: an unreachable control plane is kUnavailable naming the URL, a
// timeout kTimeout, and an error response's {"error":{code,message,hint}} body becomes a Status
// with that code, message and hint.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace populi::client {

namespace internal {
class Connection;
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  int status = 0;
  HeaderList headers;  // names lower-cased, in arrival order
  std::string body;
  // First header with this (case-insensitive) name, or empty.
  std::string_view Header(std::string_view name) const;
};

// Retries for idempotent calls (GET, PUT, DELETE, or any request carrying an idempotency-key
// header): transport failures, 429, 502, 503 and 504 are retried up to max_attempts in total,
// sleeping a uniformly random time in [0, min(max_backoff_ms, initial_backoff_ms × 2^n)] ("full
// jitter"), or the server's Retry-After when that is longer (capped at max_backoff_ms).
struct RetryPolicy {
  int max_attempts = 1;  // 1 = no retries
  int initial_backoff_ms = 100;
  int max_backoff_ms = 5'000;
};

// One server-sent event: the data lines joined by '\n', and the optional id / event fields.
struct SseEvent {
  std::string event;
  std::string id;
  std::string data;
};

class HttpClient {
 public:
  // base_url "http://host:port" (no trailing path), or several separated by commas; token
  // empty = no Authorization header.
  HttpClient(std::string base_url, std::string token = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void set_retry_policy(RetryPolicy policy) { retry_ = policy; }
  // Sends x-vox-node-id on every call (per-node rate limits, logs).
  void set_node_id(std::string node_id) { node_id_ = std::move(node_id); }
  // PEM file of the CA (or self-signed certificate) that signed the control plane's cert.
  void set_tls_ca_file(std::string path);
  // Ends the call in progress on this client, if any, and makes every later one fail at once
  // (kUnavailable, "cancelled"): its connection is closed, so the server sees the client go
  // away. One way; the one member safe to call while another thread is in a call.
  void Abort();
  bool aborted() const { return aborted_.load(); }

  // The URL calls go to now (one of urls()).
  const std::string& base_url() const { return urls_[current_.load()]; }
  const std::vector<std::string>& urls() const { return urls_; }

  // Any 2xx response; non-2xx responses become the Status their error body describes.
  Result<ClientResponse> Send(std::string_view method, std::string_view path,
                              std::string_view body = {}, const HeaderList& headers = {},
                              int timeout_ms = 30'000);
  // Every HTTP response as is; only transport failures are errors.
  Result<ClientResponse> SendRaw(std::string_view method, std::string_view path,
                                 std::string_view body = {}, const HeaderList& headers = {},
                                 int timeout_ms = 30'000);

  // Reads a text/event-stream at `path`, calling on_event per event until it returns false, the
  // server ends the stream (ok), or an error. Uses its own connection. timeout_ms 0 = no limit.
  // `extra_headers` go with the request (Last-Event-ID when resuming).
  Status StreamEvents(std::string_view path, const std::function<bool(const SseEvent&)>& on_event,
                      int timeout_ms = 0, const HeaderList& extra_headers = {});

  // Sends `method path` with `body` and reads a text/event-stream answer, calling on_event per
  // event until it returns false or the stream ends; a non-2xx answer (or a 2xx that is not an
  // event stream) is returned whole in the response, with no event delivered. One URL only (the
  // first): a POST is never repeated elsewhere. Uses its own connection. timeout_ms 0 = none.
  Result<ClientResponse> SendForEvents(std::string_view method, std::string_view path,
                                       std::string_view body,
                                       const std::function<bool(const SseEvent&)>& on_event,
                                       int timeout_ms = 0, const HeaderList& extra_headers = {});

  // The Status an error response stands for (ok for 2xx).
  static Status StatusFromResponse(const ClientResponse& response, std::string_view url);

 private:
  Result<ClientResponse> SendOnce(std::string_view method, std::string_view path,
                                  std::string_view body, const HeaderList& headers, int timeout_ms);
  // The credential, node id and content-type headers, then the caller's.
  HeaderList BuildHeaders(const HeaderList& extra, bool has_body) const;
  // Makes the next URL current (under mu_); the next call connects there.
  void MoveToNextUrl();
  // Keeps `connection` reachable by Abort() while a call runs on it.
  class ActiveCall;

  std::atomic<bool> aborted_{false};
  std::mutex active_mu_;                       // guards active_
  std::vector<internal::Connection*> active_;  // connections with a call in progress

  std::vector<std::string> urls_;   // never empty; fixed after construction
  std::atomic<size_t> current_{0};  // index into urls_
  std::string token_;
  std::string node_id_;
  std::string ca_file_;
  RetryPolicy retry_;
  std::mutex mu_;
  std::unique_ptr<internal::Connection> connection_;  // kept alive between calls
};

}  // namespace populi::client
