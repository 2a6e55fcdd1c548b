#include "control/http/response_head.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "control/http/auth.h"

namespace populi::http {
namespace {

void AppendClean(std::string_view text, std::string* out) {
  for (char c : text) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  AppendClean(name, out);
  out->append(": ");
  AppendClean(value, out);
  out->append("\r\n");
}

}  // namespace

bool StatusHasNoBody(int status) {
  return status < 200 || status == 204 || status == 304;
}

void FormatResponseHead(const Response& response, std::string_view request_id, bool keep_alive,
                        std::optional<size_t> content_length, std::string* out) {
  namespace bhttp = boost::beast::http;
  out->clear();
  out->append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ");
  out->append(bhttp::obsolete_reason(static_cast<bhttp::status>(response.status)));
  out->append("\r\n");
  auto overridden = [&response](std::string_view name) {
    return std::any_of(response.headers.begin(), response.headers.end(),
                       [name](const auto& h) { return boost::beast::iequals(h.first, name); });
  };
  if (!response.content_type.empty() && !overridden("content-type")) {
    AppendField("Content-Type", response.content_type, out);
  }
  if (!overridden(kRequestIdHeader)) AppendField(kRequestIdHeader, request_id, out);
  if (!overridden(kWireVersionHeader)) AppendField(kWireVersionHeader, POPULI_WIRE_VERSION, out);
  for (const auto& [name, value] : response.headers) AppendField(name, value, out);
  if (content_length) AppendField("Content-Length", std::to_string(*content_length), out);
  if (!keep_alive) AppendField("Connection", "close", out);
  out->append("\r\n");
}

}  // namespace populi::http
