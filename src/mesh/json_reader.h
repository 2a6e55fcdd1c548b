// The one way the project reads fields out of JSON objects: the mesh wire codecs (json.h,
// task_json.h) and the modules' own file formats (identity file, JWT claims, legacy export,
// probe report and fixture) are all built on FieldReader.
//
// Contract of a FieldReader (the codecs built on it inherit it):
//  * a wrong type, a number out of range or an unknown enum string is kInvalidArgument whose
//    message names the field path ("gpus[1].memory_total_bytes: expected a non-negative
//    integer") and whose hint is the reader's hint;
//  * a JSON null reads as an absent field; a missing required field is an error;
//  * unknown fields are ignored (formats change additively), unless the reader is asked to
//    reject them (hand-written files, where an unknown key is most likely a typo);
//  * the first error wins: later reads are no-ops, so a decoder reads every field and checks
//    status() once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "util/status.h"

namespace populi::mesh {

// The hint of a wire codec's errors.
inline constexpr std::string_view kApiFieldsHint = "see docs/api.md for the request's fields";

enum class UnknownFields { kIgnore, kReject };

struct ReadOptions {
  std::string hint = std::string(kApiFieldsHint);
  UnknownFields unknown = UnknownFields::kIgnore;
};

// Reads typed fields out of one JSON object, remembering the first error with its field path.
class FieldReader {
 public:
  using Value = boost::json::value;

  FieldReader(const Value& v, std::string path, ReadOptions options = {})
      : path_(std::move(path)), options_(std::move(options)) {
    obj_ = v.if_object();
    if (obj_ == nullptr) Fail("", "expected a JSON object");
  }
  // The reader points into `v`, which must outlive it.
  FieldReader(const Value&& v, std::string path, ReadOptions options = {}) = delete;

  // The first error so far (ok when none).
  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  const ReadOptions& options() const { return options_; }

  // The first error; with UnknownFields::kReject, also the first field nothing has read. Call
  // once, after every field has been read.
  const Status& Finish() {
    if (ok() && obj_ != nullptr && options_.unknown == UnknownFields::kReject) {
      for (const auto& kv : *obj_) {
        if (std::find(read_.begin(), read_.end(), kv.key()) == read_.end()) {
          Fail(kv.key(), "unknown field");
          break;
        }
      }
    }
    return status_;
  }

  void Str(std::string_view key, std::string& out, bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "expected a string");
    out = std::string(v->get_string());
  }

  void Int(std::string_view key, int64_t& out, int64_t min = 0,
           int64_t max = std::numeric_limits<int64_t>::max(), bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return;
    int64_t n = 0;
    if (v->is_int64()) {
      n = v->get_int64();
    } else if (v->is_uint64()) {
      // A value built in memory from an unsigned field (not parsed from text) has this kind.
      if (v->get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return Fail(key, "number out of range " + Range(min, max));
      n = static_cast<int64_t>(v->get_uint64());
    } else {
      return Fail(key, "expected an integer " + Range(min, max));
    }
    if (n < min || n > max) return Fail(key, "number out of range " + Range(min, max));
    out = n;
  }

  // An integer field into a narrower integer type, within that type's range.
  template <typename T>
  void Num(std::string_view key, T& out, bool required = false) {
    int64_t n = static_cast<int64_t>(out);
    Int(key, n, static_cast<int64_t>(std::numeric_limits<T>::min()),
        std::min<int64_t>(std::numeric_limits<int64_t>::max(),
                          static_cast<int64_t>(std::numeric_limits<T>::max())),
        required);
    out = static_cast<T>(n);
  }

  void U64(std::string_view key, uint64_t& out, bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return;
    if (v->is_uint64()) {
      out = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<uint64_t>(v->get_int64());
    } else {
      Fail(key, "expected a non-negative integer");
    }
  }

  // Any JSON number.
  void Double(std::string_view key, double& out, bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return;
    if (v->is_double()) {
      out = v->get_double();
    } else if (v->is_int64()) {
      out = static_cast<double>(v->get_int64());
    } else if (v->is_uint64()) {
      out = static_cast<double>(v->get_uint64());
    } else {
      Fail(key, "expected a number");
    }
  }

  void Bool(std::string_view key, bool& out, bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return;
    if (!v->is_bool()) return Fail(key, "expected true or false");
    out = v->get_bool();
  }

  // A string parsed by `parse(text) -> Result<E>`. An empty string reads as absent unless the
  // field is required (then it is parsed, and refused by `parse`).
  template <typename E, typename ParseFn>
  void Enum(std::string_view key, E& out, ParseFn parse, bool required = false) {
    std::string s;
    Str(key, s, required);
    if (!ok() || (s.empty() && !required)) return;
    auto parsed = parse(s);
    if (!parsed.ok()) {
      if (status_.ok())
        status_ =
            InvalidArgument(Path(key) + ": " + parsed.status().message(), parsed.status().hint());
      return;
    }
    out = *parsed;
  }

  // A field whose reading the format defines itself: `read(value) -> Result<T>`; the error's
  // message (a "what", e.g. "expected a decimal string") is reported at the field's path.
  template <typename T, typename ReadFn>
  void Field(std::string_view key, T& out, ReadFn read, bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return;
    Result<T> value = read(*v);
    if (!value.ok()) return Fail(key, value.status().message());
    out = std::move(*value);
  }

  void StrMap(std::string_view key, std::map<std::string, std::string>& out) {
    const Value* v = Find(key, false);
    if (v == nullptr) return;
    if (!v->is_object()) return Fail(key, "expected an object of strings");
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string())
        return Fail(std::string(key) + "." + std::string(kv.key()), "expected a string");
      out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }

  // Decodes each element of an array field with `decode(value, element_path) -> Result<T>`.
  template <typename T, typename DecodeFn>
  void List(std::string_view key, std::vector<T>& out, DecodeFn decode, bool required = false) {
    const Value* v = Find(key, required);
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

  // An array of strings.
  void Strings(std::string_view key, std::vector<std::string>& out, bool required = false) {
    List(
        key, out,
        [this](const Value& e, const std::string& path) -> Result<std::string> {
          if (!e.is_string()) return InvalidArgument(path + ": expected a string", options_.hint);
          return std::string(e.get_string());
        },
        required);
  }

  // The nested object at `key` for a reader of its own (path: Path(key)), or nullptr when absent.
  // A value that is not an object is an error here.
  const Value* Object(std::string_view key, bool required = false) {
    const Value* v = Find(key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      Fail(key, "expected an object");
      return nullptr;
    }
    return v;
  }

  // The raw value at `key` (null included), counted as read; nullptr when absent.
  const Value* Raw(std::string_view key) {
    if (obj_ == nullptr) return nullptr;
    MarkRead(key);
    return obj_->if_contains(key);
  }
  // Whether `key` is present and not null.
  bool Has(std::string_view key) {
    const Value* v = Raw(key);
    return v != nullptr && !v->is_null();
  }

  std::string Path(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    if (key.empty()) return path_;
    return path_ + "." + std::string(key);
  }
  // Records `what` as the error at `key` unless an earlier error is recorded.
  void Fail(std::string_view key, const std::string& what) {
    if (!status_.ok()) return;
    std::string where = Path(key);
    status_ =
        InvalidArgument((where.empty() ? std::string("body") : where) + ": " + what, options_.hint);
  }

 private:
  static std::string Range(int64_t min, int64_t max) {
    return "(" + std::to_string(min) + ".." + std::to_string(max) + ")";
  }
  void MarkRead(std::string_view key) {
    if (options_.unknown == UnknownFields::kReject) read_.emplace_back(key);
  }
  const Value* Find(std::string_view key, bool required) {
    if (!ok() || obj_ == nullptr) return nullptr;
    MarkRead(key);
    const Value* v = obj_->if_contains(key);
    if (v != nullptr && v->is_null()) v = nullptr;  // null reads as absent
    if (v == nullptr && required) Fail(key, "required field is missing");
    return v;
  }

  const boost::json::object* obj_ = nullptr;
  std::string path_;
  ReadOptions options_;
  std::vector<std::string> read_;  // keys read so far (only with UnknownFields::kReject)
  Status status_;
};

}  // namespace populi::mesh
