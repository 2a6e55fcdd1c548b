#include "control/http/json_body.h"

#include "mesh/json.h"

#include <boost/json/parser.hpp>
#include <exception>
#include <string>

namespace populi::http {
namespace {

constexpr const char* kJsonHint =
    "send a single UTF-8 JSON document with Content-Type: application/json";

}  // namespace

Result<boost::json::value> ParseJsonBody(std::string_view body, size_t max_depth) {
  if (body.empty()) {
    return InvalidArgument("request body is empty; a JSON document is required", kJsonHint);
  }
  boost::json::parse_options options;
  options.max_depth = max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  try {
    boost::json::parser parser({}, options);
    boost::system::error_code ec;
    size_t consumed = parser.write(body.data(), body.size(), ec);
    if (ec) {
      if (ec == boost::json::error::too_deep) {
        return InvalidArgument(
            "request body nests deeper than " + std::to_string(max_depth) + " levels",
            "flatten the document; the API's types nest only a few levels");
      }
      return InvalidArgument("request body is not valid JSON: " + ec.message() + " at byte " +
                                 std::to_string(consumed),
                             kJsonHint);
    }
    boost::json::value v = parser.release();
    // A number past the range of a double parses as ±infinity, which serializes as text that
    // no JSON parser reads back: refuse it like any other malformed number.
    POPULI_RETURN_IF_ERROR(mesh::RequireFiniteNumbers(v));
    return v;
  } catch (const std::exception& e) {
    // Only allocation failure can throw here; report it without taking the process down.
    return Status(Code::kTooLarge, std::string("request body could not be parsed: ") + e.what(),
                  "send a smaller request body");
  }
}

}  // namespace populi::http
