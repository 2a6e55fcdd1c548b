// mesh::ParseJson, the parser every route handler uses for its body (DecodeBody), over arbitrary
// bytes with the API's depth limit: never crashes, never recurses without bound, and whatever it
// accepts serializes to a document it accepts again. (Values are not compared: Boost.JSON 1.81
// parses long decimals imprecisely, so a double may shift.)
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mesh/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = populi::mesh::ParseJson(body);
  if (!parsed.ok()) {
    if (parsed.status().code() != populi::Code::kInvalidArgument &&
        parsed.status().code() != populi::Code::kTooLarge) {
      std::abort();
    }
    return 0;
  }
  std::string again = boost::json::serialize(*parsed);
  auto reparsed = populi::mesh::ParseJson(again);
  if (!reparsed.ok() || reparsed->kind() != parsed->kind()) std::abort();
  return 0;
}
