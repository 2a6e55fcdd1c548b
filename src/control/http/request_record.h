// What a finished request leaves behind, built without Asio so the session TUs stay small: its
// log line, its server span and the record handed to ServerOptions::on_request_done. Internal
// to src/control/http/.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "control/http/http.h"
#include "control/http/server.h"

namespace populi::http {

// A client's X-Request-Id is kept when it is short and printable; otherwise the server makes one.
bool IsSaneRequestId(std::string_view id);

// The 500 answer for a handler that threw (handlers are not supposed to; the server survives).
Response HandlerFailed(const std::string& request_id, const char* what);

struct FinishedRequest {
  const Request& request;
  const Route* route = nullptr;  // null when no route matched
  std::string_view route_name;
  std::string_view refusal;  // RequestRecord::refusal
  int status = 0;
  double ms = 0;
  std::string_view remote;     // address:port
  std::string_view remote_ip;  // address only
};

// Logs the request (its credential's label only, never the credential or the query string),
// records its server span when tracing is on, and calls on_request_done.
void RecordFinishedRequest(const ServerOptions& options, spdlog::logger& logger,
                           const FinishedRequest& finished);

}  // namespace populi::http
