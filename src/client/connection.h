// One HTTP/1.1 connection to the control plane, plain TCP or TLS, kept alive between
// exchanges. Internal to client/: connection.cc is the only TU here that includes Asio/Beast,
// so the rest of the client (retries, error bodies, event parsing) compiles without them.
//
// Contract: not thread-safe (HttpClient serializes calls). A request sent on a connection the
// server had already closed while idle is sent once more on a fresh one; that is safe for every
// method because the server never closes a connection with a request in progress.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "client/http_client.h"
#include "util/status.h"

namespace populi::client::internal {

struct OutgoingRequest {
  std::string_view method;
  std::string_view target;              // path and query
  const HeaderList* headers = nullptr;  // sent as given, in order
  std::string_view body;
};

// Receives a 2xx response's body as it arrives; returning false ends the exchange early.
using BodySink = std::function<bool(std::string_view)>;

class Connection {
 public:
  // base_url "http://host[:port]" or "https://host[:port]"; ca_file is a PEM file of trusted
  // certificates for https (empty = the system's roots). Nothing connects until the first call.
  Connection(std::string base_url, std::string ca_file);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends the request and reads the whole response within timeout_ms (connect included; the
  // connect itself is capped at 10 s). Transport failures are kUnavailable naming the URL,
  // timeouts kTimeout, an unusable URL kInvalidArgument; any HTTP status is a response.
  Result<ClientResponse> Exchange(const OutgoingRequest& request, int timeout_ms);

  // Like Exchange, but a 2xx body is handed to `sink` as it arrives instead of being kept
  // (a non-2xx body is still collected into the response). timeout_ms 0 = no limit. *stopped
  // is set when the sink asked to stop; the connection is then closed.
  Result<ClientResponse> Stream(const OutgoingRequest& request, int timeout_ms,
                                const BodySink& sink, bool* stopped);

  // True when the last Exchange or Stream failed before any byte of its request was sent (the
  // URL did not resolve, or the connection or the TLS handshake failed): repeating that request
  // elsewhere cannot run it twice.
  bool failed_before_send() const;

  // Ends the exchange in progress, if any, by closing the connection, and makes every later one
  // fail at once (kUnavailable, "cancelled"). The only member safe to call from another thread.
  void Abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace populi::client::internal

namespace populi::client {

// Registers a connection with a call in progress, so that HttpClient::Abort() reaches it; a
// client already aborted aborts it at once.
class HttpClient::ActiveCall {
 public:
  ActiveCall(HttpClient& client, internal::Connection& connection)
      : client_(client), connection_(connection) {
    std::lock_guard lock(client_.active_mu_);
    client_.active_.push_back(&connection_);
    if (client_.aborted_.load()) connection_.Abort();
  }
  ~ActiveCall() {
    std::lock_guard lock(client_.active_mu_);
    auto& active = client_.active_;
    active.erase(std::find(active.begin(), active.end(), &connection_));
  }
  ActiveCall(const ActiveCall&) = delete;
  ActiveCall& operator=(const ActiveCall&) = delete;

 private:
  HttpClient& client_;
  internal::Connection& connection_;
};

}  // namespace populi::client
