// The Model Context Protocol server (https://modelcontextprotocol.io, revision 2025-06-18): the
// lifecycle (initialize with version negotiation, notifications/initialized, ping) and the tools
// capability (tools/list, tools/call) over Backend. Transport-neutral: the stdio loop
// (cli/verbs/mcp.cc) and the control plane's POST /mcp (control/api/mcp_routes.cc) hand it one
// message at a time and write back what it returns.
//
// Errors: malformed JSON-RPC gets the JSON-RPC error codes (jsonrpc.h); an unknown method
// kMethodNotFound; an unknown tool or a tool the caller's credential may not call
// kInvalidParams. Whatever the mesh refuses or fails is a tool result with isError (tools.h).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "mcp/backend.h"
#include "mcp/jsonrpc.h"
#include "mcp/tools.h"

namespace populi::mcp {

// The protocol revisions this server speaks, newest first.
std::span<const std::string_view> SupportedProtocolVersions();
inline constexpr std::string_view kLatestProtocolVersion = "2025-06-18";
// The version to answer a client that asked for `requested`: that one when supported, else the
// latest.
std::string_view NegotiateVersion(std::string_view requested);
bool IsSupportedVersion(std::string_view version);

// What one message is handled with.
struct CallContext {
  // Whether the caller's credential allows a tool's access; null = everything.
  std::function<bool(Access)> allowed;
  // Sends a notification to the client while a request runs (progress); null = none can be sent.
  std::function<void(const boost::json::object&)> notify;
};

class Server {
 public:
  // `version`: this build's version, reported in serverInfo.
  Server(Backend& backend, std::string version);

  // The response to `message`, or nullopt for a notification or a response.
  std::optional<boost::json::object> Handle(const Incoming& message, const CallContext& ctx);
  // The same for one message's text, parsing it first (a parse error is answered).
  std::optional<boost::json::object> HandleText(std::string_view text, const CallContext& ctx);

 private:
  boost::json::object Initialize(const boost::json::object& params) const;
  boost::json::object ListTools(const CallContext& ctx) const;
  boost::json::object CallToolRequest(const Incoming& message, const CallContext& ctx);

  Backend& backend_;
  std::string version_;
};

}  // namespace populi::mcp
