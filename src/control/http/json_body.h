// Parsing of JSON request bodies with the limits the HTTP API enforces.
//
// Route handlers call ParseJsonBody on Request::body instead of boost::json::parse so every route
// rejects the same bad input the same way: malformed JSON, invalid UTF-8, trailing garbage and
// nesting deeper than `max_depth` all come back as kInvalidArgument with a hint, never as an
// exception and never as a stack overflow (a 10,000-deep array is refused by depth, not
// recursion).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string_view>

#include "util/status.h"

namespace populi::http {

// The nesting limit the API uses for request bodies. Wire types nest a few levels at most.
inline constexpr size_t kDefaultJsonMaxDepth = 64;

// The parsed document, or kInvalidArgument ("request body is not valid JSON: <what> at byte N").
// An empty body is an error too: a route that accepts no body should not call this.
Result<boost::json::value> ParseJsonBody(std::string_view body,
                                         size_t max_depth = kDefaultJsonMaxDepth);

}  // namespace populi::http
