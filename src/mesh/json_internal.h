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

inline void PutStr(json::object& o, std::string_view key, const std::string& s) {
  if (!s.empty()) o[key] = s;
}
inline void PutTime(json::object& o, std::string_view key, int64_t ms) {
  if (ms != 0) o[key] = ms;
}

}  // namespace populi::mesh::json_internal
