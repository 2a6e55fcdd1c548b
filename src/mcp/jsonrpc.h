// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) as the Model Context Protocol uses it: one
// message per line on stdio, one message per POST body over Streamable HTTP. Requests carry an id
// (string or integer) and get exactly one response; notifications carry none and get none.
// Batches (arrays) are refused: the protocol revisions this server speaks do not use them.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace populi::mcp {

// The error codes JSON-RPC defines.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

struct Incoming {
  enum class Kind { kRequest, kNotification, kResponse };
  Kind kind = Kind::kRequest;
  boost::json::value id;  // a request's or response's id; null for a notification
  std::string method;     // empty for a response
  boost::json::object params;
};

// One message read from `text`, or the error response to send back for it: kParseError for text
// that is not JSON, kInvalidRequest for JSON that is not a JSON-RPC 2.0 message (its id echoed
// when one could be read, else null).
std::variant<Incoming, boost::json::object> ParseMessage(std::string_view text);

// {"jsonrpc":"2.0","id":…,"result":…}
boost::json::object MakeResult(const boost::json::value& id, boost::json::value result);
// {"jsonrpc":"2.0","id":…,"error":{"code","message"[,"data"]}}
boost::json::object MakeError(const boost::json::value& id, int code, std::string_view message,
                              const boost::json::value& data = nullptr);
// {"jsonrpc":"2.0","method":…,"params":…}
boost::json::object MakeNotification(std::string_view method, boost::json::object params);

}  // namespace populi::mcp
