// The head of an HTTP/1.1 response as the server writes it (status line and fields), formatted
// as plain text so that the session sends head and body in one gathered write. Asio-free.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "control/http/http.h"

namespace populi::http {

// 1xx, 204 and 304 answers carry neither a body nor a Content-Length.
bool StatusHasNoBody(int status);

// Replaces *out with the head of `response`: the status line, Content-Type (when
// response.content_type is set), x-request-id, the wire version, then response.headers — a
// handler's header replaces the default of the same name — Content-Length when given,
// "Connection: close" unless keep_alive, and the blank line. CR and LF are dropped from every
// name and value, so nothing (a client's request id echoed back, say) can end the head early or
// add a field.
void FormatResponseHead(const Response& response, std::string_view request_id, bool keep_alive,
                        std::optional<size_t> content_length, std::string* out);

}  // namespace populi::http
