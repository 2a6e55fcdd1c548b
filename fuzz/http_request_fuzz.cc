// Feeds arbitrary bytes to Beast's request parser with the limits the server uses, in one piece
// and split at a data-chosen point, then routes the target the way a session does. Like a
// session, it reads the header first and the body only when the server would: a chunked body is
// refused with 411 before any of it is parsed (fuzz/findings/ holds the input that showed why).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/http/http.h"
#include "control/http/server.h"

namespace {

namespace bhttp = boost::beast::http;

const populi::http::ServerOptions& Limits() {
  static const populi::http::ServerOptions options;
  return options;
}

const populi::http::Router& TestRouter() {
  static const populi::http::Router router = [] {
    populi::http::Router r;
    for (const char* pattern :
         {"/health", "/v1/populi/nodes/{id}", "/v1/populi/nodes/{id}/heartbeat",
          "/v1/populi/a2a/inbox/{receiver}/claim"}) {
      populi::http::Route route;
      route.pattern = pattern;
      route.name = pattern;
      r.Add(route);
    }
    return r;
  }();
  return router;
}

void Parse(std::string_view first, std::string_view second) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(Limits().max_header_bytes));
  parser.body_limit(Limits().default_max_body_bytes);
  // As a session's read loop does: bytes the parser has not consumed stay buffered and are
  // offered again with the next piece (Beast's put() contract).
  boost::system::error_code ec;
  std::string buffered;
  bool body_allowed = false;
  for (std::string_view piece : {first, second}) {
    buffered.append(piece);
    while (!buffered.empty() && !parser.is_done()) {
      if (parser.is_header_done() && !body_allowed) {
        if (parser.chunked()) break;  // the session answers 411 without reading the body
        body_allowed = true;
        parser.eager(true);
      }
      size_t used = parser.put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
      buffered.erase(0, used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return;
      if (used == 0) break;
    }
  }
  if (!parser.is_header_done()) return;
  auto target = boost::urls::parse_origin_form(parser.get().target());
  if (!target) return;
  std::map<std::string, std::string> params;
  bool path_exists = false;
  TestRouter().Match(populi::http::Method::kGet, target->path(), &params, &path_exists);
  for (const auto& param : target->params()) (void)param.value.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Parse(bytes, {});
  if (size > 1) {
    size_t split = data[0] % size;
    Parse(bytes.substr(1, split), bytes.substr(1 + split));
  }
  return 0;
}
