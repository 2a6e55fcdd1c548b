// A JSON Schema checker for the subset of keywords the MCP tool catalog uses (type, properties,
// required, additionalProperties, items, minimum, pattern, description, enum): CheckSchema finds
// what is not a well-formed schema, Problems where a value does not validate against one.
#pragma once

#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace populi::mcp {
namespace schema_check {
namespace json = boost::json;

inline const std::set<std::string> kKeywords = {
    "type",    "properties",  "required", "additionalProperties", "items", "minimum",
    "pattern", "description", "enum"};
inline const std::set<std::string> kTypes = {"object", "array",   "string", "integer",
                                             "number", "boolean", "null"};

// Problems with `schema` as a JSON Schema (unknown keywords, malformed values), appended.
inline void CheckSchema(const json::value& schema, const std::string& at,
                        std::vector<std::string>& out) {
  if (!schema.is_object()) return out.push_back(at + ": not an object");
  for (const auto& [k, v] : schema.as_object()) {
    const std::string key(k);
    if (!kKeywords.count(key)) out.push_back(at + ": unknown keyword " + key);
    if (key == "type") {
      std::vector<json::value> types;
      if (v.is_array())
        types.assign(v.as_array().begin(), v.as_array().end());
      else
        types.push_back(v);
      for (const auto& t : types) {
        if (!t.is_string() || !kTypes.count(std::string(t.as_string())))
          out.push_back(at + ": bad type " + json::serialize(t));
      }
    } else if (key == "properties") {
      if (!v.is_object())
        out.push_back(at + ": properties not an object");
      else
        for (const auto& [name, sub] : v.as_object())
          CheckSchema(sub, at + "." + std::string(name), out);
    } else if (key == "required") {
      if (!v.is_array())
        out.push_back(at + ": required not an array");
      else
        for (const auto& r : v.as_array()) {
          const json::value* props = schema.as_object().if_contains("properties");
          if (!r.is_string() || !props || !props->as_object().contains(r.as_string()))
            out.push_back(at + ": required names no property: " + json::serialize(r));
        }
    } else if (key == "items") {
      CheckSchema(v, at + "[]", out);
    } else if (key == "additionalProperties") {
      if (!v.is_bool()) CheckSchema(v, at + "{}", out);
    } else if (key == "pattern") {
      if (!v.is_string()) out.push_back(at + ": pattern not a string");
    } else if (key == "minimum") {
      if (!v.is_number()) out.push_back(at + ": minimum not a number");
    } else if (key == "description") {
      if (!v.is_string() || v.as_string().empty()) out.push_back(at + ": empty description");
    }
  }
}

inline bool HasType(const json::value& v, std::string_view t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_int64() || v.is_uint64();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_bool();
  return t == "null" && v.is_null();
}

// Where `v` does not validate against `schema`, appended.
inline void Validate(const json::value& v, const json::object& schema, const std::string& at,
                     std::vector<std::string>& out) {
  if (const json::value* t = schema.if_contains("type")) {
    bool ok = false;
    if (t->is_string())
      ok = HasType(v, t->as_string());
    else
      for (const auto& e : t->as_array()) ok = ok || HasType(v, e.as_string());
    if (!ok) return out.push_back(at + ": wrong type, got " + json::serialize(v));
  }
  if (const json::value* m = schema.if_contains("minimum"); m && v.is_number()) {
    if (v.to_number<double>() < m->to_number<double>()) out.push_back(at + ": below minimum");
  }
  if (const json::value* p = schema.if_contains("pattern"); p && v.is_string()) {
    if (!std::regex_search(std::string(v.as_string()), std::regex(std::string(p->as_string()))))
      out.push_back(at + ": does not match pattern");
  }
  if (v.is_array()) {
    if (const json::value* items = schema.if_contains("items"))
      for (const auto& e : v.as_array()) Validate(e, items->as_object(), at + "[]", out);
  }
  if (!v.is_object()) return;
  const json::object& o = v.as_object();
  const json::value* props = schema.if_contains("properties");
  if (const json::value* req = schema.if_contains("required")) {
    for (const auto& r : req->as_array())
      if (!o.contains(r.as_string())) out.push_back(at + ": missing " + std::string(r.as_string()));
  }
  for (const auto& [k, e] : o) {
    const json::value* sub = props ? props->as_object().if_contains(k) : nullptr;
    if (sub) {
      Validate(e, sub->as_object(), at + "." + std::string(k), out);
      continue;
    }
    const json::value* extra = schema.if_contains("additionalProperties");
    if (extra && extra->is_bool() && !extra->as_bool())
      out.push_back(at + ": unexpected " + std::string(k));
    else if (extra && extra->is_object())
      Validate(e, extra->as_object(), at + "." + std::string(k), out);
  }
}

inline std::vector<std::string> Problems(const json::value& v, const json::object& schema) {
  std::vector<std::string> out;
  Validate(v, schema, "$", out);
  return out;
}

}  // namespace schema_check
}  // namespace populi::mcp
