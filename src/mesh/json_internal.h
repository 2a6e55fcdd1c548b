// Internal to the mesh codecs (json.cc, json_requests.cc): a field reader that remembers the
// first error with its field path, and writers that omit absent optionals.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "util/status.h"

namespace populi::mesh::json_internal {
namespace json = boost::json;

// Reads typed fields out of one JSON object, remembering the first error with its field path.
class Reader {
 public:
  Reader(const json::value& v, std::string path) : path_(std::move(path)) {
    obj_ = v.if_object();
    if (obj_ == nullptr) Fail("", "expected a JSON object");
  }

  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  void Str(std::string_view key, std::string& out, bool required = false) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "expected a string");
    out = std::string(v->get_string());
  }

  void Int(std::string_view key, int64_t& out, int64_t min = 0,
           int64_t max = std::numeric_limits<int64_t>::max(), bool required = false) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    int64_t n = 0;
    if (v->is_int64()) {
      n = v->get_int64();
    } else if (v->is_uint64()) {
      return Fail(key, "number out of range " + Range(min, max));
    } else {
      return Fail(key, "expected an integer " + Range(min, max));
    }
    if (n < min || n > max) return Fail(key, "number out of range " + Range(min, max));
    out = n;
  }

  template <typename T>
  void Num(std::string_view key, T& out, bool required = false) {
    int64_t n = static_cast<int64_t>(out);
    Int(key, n, static_cast<int64_t>(std::numeric_limits<T>::min()),
        std::min<int64_t>(std::numeric_limits<int64_t>::max(),
                          static_cast<int64_t>(std::numeric_limits<T>::max())),
        required);
    out = static_cast<T>(n);
  }

  void U64(std::string_view key, uint64_t& out) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    if (v->is_uint64()) {
      out = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<uint64_t>(v->get_int64());
    } else {
      Fail(key, "expected a non-negative integer");
    }
  }

  void Bool(std::string_view key, bool& out) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    if (!v->is_bool()) return Fail(key, "expected true or false");
    out = v->get_bool();
  }

  template <typename E, typename ParseFn>
  void Enum(std::string_view key, E& out, ParseFn parse) {
    std::string s;
    Str(key, s);
    if (!ok() || s.empty()) return;
    auto parsed = parse(s);
    if (!parsed.ok()) {
      if (status_.ok())
        status_ =
            InvalidArgument(Path(key) + ": " + parsed.status().message(), parsed.status().hint());
      return;
    }
    out = *parsed;
  }

  void StrMap(std::string_view key, std::map<std::string, std::string>& out) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    if (!v->is_object()) return Fail(key, "expected an object of strings");
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string())
        return Fail(std::string(key) + "." + std::string(kv.key()), "expected a string");
      out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }

  // Decodes each element of an array field with `decode(value, element_path)`.
  template <typename T, typename DecodeFn>
  void List(std::string_view key, std::vector<T>& out, DecodeFn decode) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key, "expected an array");
    size_t i = 0;
    for (const auto& element : v->get_array()) {
      Result<T> item = decode(element, Path(key) + "[" + std::to_string(i++) + "]");
      if (!item.ok()) {
        if (status_.ok()) status_ = item.status();
        return;
      }
      out.push_back(std::move(*item));
    }
  }

  const json::value* Raw(std::string_view key) const {
    return obj_ == nullptr ? nullptr : obj_->if_contains(key);
  }
  std::string Path(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    if (key.empty()) return path_;
    return path_ + "." + std::string(key);
  }
  void Fail(std::string_view key, const std::string& what) {
    if (!status_.ok()) return;
    std::string where = Path(key);
    status_ = InvalidArgument((where.empty() ? std::string("body") : where) + ": " + what,
                              "see docs/api.md for the request's fields");
  }

 private:
  static std::string Range(int64_t min, int64_t max) {
    return "(" + std::to_string(min) + ".." + std::to_string(max) + ")";
  }
  const json::value* Find(std::string_view key, bool required) {
    if (!ok() || obj_ == nullptr) return nullptr;
    const json::value* v = obj_->if_contains(key);
    if (v != nullptr && v->is_null()) v = nullptr;  // null reads as absent
    if (v == nullptr && required) Fail(key, "required field is missing");
    return v;
  }

  const json::object* obj_ = nullptr;
  std::string path_;
  Status status_;
};

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

inline void PutStr(json::object& o, std::string_view key, const std::string& s) {
  if (!s.empty()) o[key] = s;
}
inline void PutTime(json::object& o, std::string_view key, int64_t ms) {
  if (ms != 0) o[key] = ms;
}

}  // namespace populi::mesh::json_internal
