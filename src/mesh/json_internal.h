// Internal to the mesh codecs (json.cc, json_requests.cc, task_json.cc, probe_json.cc): the field
// reader under its short name, and writers that omit absent optionals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "mesh/json_reader.h"
#include "util/status.h"

namespace populi::mesh::json_internal {
namespace json = boost::json;

// The codecs' field reader (mesh/json_reader.h), under the name they use.
using Reader = FieldReader;

// `status`, an error of a decoder that names fields from its own root ("gpus[0].name: …", or
// "body: …" for the root itself), with `path` in front: "nodes[1].gpus[0].name: …".
inline Status AtPath(const Status& status, const std::string& path) {
  const std::string& m = status.message();
  if (m.rfind("body: ", 0) == 0) return Status(status.code(), path + m.substr(4), status.hint());
  if (!m.empty() && m.front() == '[') return Status(status.code(), path + m, status.hint());
  return Status(status.code(), path + "." + m, status.hint());
}

// An element decoder for Reader::List made of a record decoder that names fields from its root.
template <typename T>
auto Element(Result<T> (*decode)(const json::value&)) {
  return [decode](const json::value& e, const std::string& path) -> Result<T> {
    Result<T> item = decode(e);
    if (!item.ok()) return AtPath(item.status(), path);
    return item;
  };
}

// Reader::List for a list the document must carry (an empty list is fine).
template <typename T, typename DecodeFn>
void RequiredList(Reader& r, std::string_view key, std::vector<T>& out, DecodeFn decode) {
  if (r.ok() && (r.Raw(key) == nullptr || r.Raw(key)->is_null()))
    r.Fail(key, "required field is missing");
  r.List(key, out, decode);
}

// An element decoder for a list of message ids (integers >= 1), requests and replies alike.
inline Result<int64_t> MessageIdAt(const json::value& e, const std::string& path) {
  if (!e.is_int64() || e.get_int64() < 1)
    return InvalidArgument(path + ": expected a message id (integer >= 1)",
                           "see docs/api.md for the message's fields");
  return e.get_int64();
}

inline void PutStr(json::object& o, std::string_view key, const std::string& s) {
  if (!s.empty()) o[key] = s;
}
inline void PutTime(json::object& o, std::string_view key, int64_t ms) {
  if (ms != 0) o[key] = ms;
}

}  // namespace populi::mesh::json_internal
