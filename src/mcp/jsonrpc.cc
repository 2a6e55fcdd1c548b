#include "mcp/jsonrpc.h"

#include <boost/json.hpp>

namespace populi::mcp {
namespace json = boost::json;

std::variant<Incoming, json::object> ParseMessage(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return MakeError(nullptr, kParseError, "Parse error: " + ec.message());
  if (v.is_array()) {
    return MakeError(nullptr, kInvalidRequest, "Invalid Request: batches are not supported");
  }
  if (!v.is_object()) return MakeError(nullptr, kInvalidRequest, "Invalid Request: not an object");
  json::object& o = v.as_object();
  Incoming in;
  if (const json::value* id = o.if_contains("id")) {
    if (id->is_string() || id->is_int64() || id->is_uint64())
      in.id = *id;
    else if (!id->is_null())
      return MakeError(nullptr, kInvalidRequest, "Invalid Request: id must be a string or integer");
  }
  const json::value* version = o.if_contains("jsonrpc");
  if (!version || !version->is_string() || version->as_string() != "2.0") {
    return MakeError(in.id, kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"");
  }
  const json::value* method = o.if_contains("method");
  if (!method) {
    if (o.contains("result") || o.contains("error")) {
      in.kind = Incoming::Kind::kResponse;
      return in;
    }
    return MakeError(in.id, kInvalidRequest, "Invalid Request: no method");
  }
  if (!method->is_string() || method->as_string().empty()) {
    return MakeError(in.id, kInvalidRequest, "Invalid Request: method must be a string");
  }
  in.method = std::string(method->as_string());
  if (const json::value* params = o.if_contains("params")) {
    if (!params->is_object()) {
      return MakeError(in.id, kInvalidRequest, "Invalid Request: params must be an object");
    }
    in.params = params->as_object();
  }
  const bool has_id = o.contains("id") && !in.id.is_null();
  if (o.contains("id") && in.id.is_null()) {
    return MakeError(nullptr, kInvalidRequest, "Invalid Request: id must not be null");
  }
  in.kind = has_id ? Incoming::Kind::kRequest : Incoming::Kind::kNotification;
  return in;
}

json::object MakeResult(const json::value& id, json::value result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json::object MakeError(const json::value& id, int code, std::string_view message,
                       const json::value& data) {
  json::object error{{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = data;
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

json::object MakeNotification(std::string_view method, json::object params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

}  // namespace populi::mcp
