// Internal to client/ (control_plane_api.cc, task_api.cc): one typed exchange with the control
// plane — a request body from a mesh type, a 2xx reply read by a mesh decoder — and the
// percent-encoding of path segments and query values.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "client/http_client.h"
#include "mesh/json.h"
#include "util/status.h"

namespace populi::client::internal {

// `text` with everything but unreserved characters (RFC 3986) percent-encoded: one path segment
// or one query value.
std::string Escape(std::string_view text);

// kInternal: the 2xx reply to `request` (e.g. "GET /v1/populi/nodes") from `url` could not be read,
// with `why` (the decoder's message names the field).
Status MalformedReply(const std::string& url, const std::string& request, const Status& why);

// `body`, a 2xx reply to `request`, as JSON decoded by `decode`.
template <typename T, typename Decode>
Result<T> DecodeReply(std::string_view body, const std::string& url, const std::string& request,
                      Decode decode) {
  auto doc = mesh::ParseJson(body, 64);
  if (!doc.ok()) return MalformedReply(url, request, doc.status());
  Result<T> value = decode(*doc);
  if (!value.ok()) return MalformedReply(url, request, value.status());
  return value;
}

// Sends `method path` with `body` and decodes its 2xx reply as T.
template <typename T, typename Decode>
Result<T> Call(HttpClient& http, std::string_view method, const std::string& path,
               const std::string& body, int timeout_ms, Decode decode,
               const HeaderList& headers = {}) {
  POPULI_ASSIGN_OR_RETURN(ClientResponse response,
                          http.Send(method, path, body, headers, timeout_ms));
  return DecodeReply<T>(response.body, http.base_url(), std::string(method) + " " + path, decode);
}

}  // namespace populi::client::internal
