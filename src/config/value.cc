// Value parsing (env/flag text), key suggestions and the Config accessors.
#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>

#include "config/config.h"
#include "util/units.h"

namespace populi::config {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string AllowedList(std::string_view allowed) {
  std::string out(allowed);
  std::replace(out.begin(), out.end(), '|', ',');
  return out;
}

bool IsAllowed(std::string_view allowed, std::string_view value) {
  if (allowed.empty()) return true;
  size_t start = 0;
  while (start <= allowed.size()) {
    size_t bar = allowed.find('|', start);
    if (bar == std::string_view::npos) bar = allowed.size();
    if (allowed.substr(start, bar - start) == value) return true;
    start = bar + 1;
  }
  return false;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "integer";
    case Type::kDouble:
      return "number";
    case Type::kString:
      return "string";
    case Type::kStringList:
      return "list of strings";
    case Type::kDurationSecs:
      return "duration";
    case Type::kBytes:
      return "size";
  }
  return "?";
}

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kWorkspace:
      return "workspace";
    case Source::kUser:
      return "user";
    case Source::kEnv:
      return "env";
    case Source::kFlag:
      return "flag";
  }
  return "?";
}

std::string Diagnostic::ToString() const {
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
  }
  return out + message;
}

// Checks the range and allowed values of an already typed value. `what` names the value in errors.
Status ValidateValue(const KeySpec& spec, const Value& value) {
  if (const auto* n = std::get_if<int64_t>(&value)) {
    if (*n < spec.min || *n > spec.max) {
      return InvalidArgument(
          std::string(spec.key) + " = " + std::to_string(*n) + " is out of range",
          "use a value from " + std::to_string(spec.min) + " to " + std::to_string(spec.max));
    }
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (*d < static_cast<double>(spec.min) || *d > static_cast<double>(spec.max)) {
      return InvalidArgument(
          std::string(spec.key) + " = " + std::to_string(*d) + " is out of range",
          "use a value from " + std::to_string(spec.min) + " to " + std::to_string(spec.max));
    }
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    if (!IsAllowed(spec.allowed, *s)) {
      return InvalidArgument(std::string(spec.key) + " = \"" + *s + "\" is not allowed",
                             "use one of: " + AllowedList(spec.allowed));
    }
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
    for (const std::string& item : *list) {
      if (!IsAllowed(spec.allowed, item)) {
        return InvalidArgument(std::string(spec.key) + " has unknown item \"" + item + "\"",
                               "use items from: " + AllowedList(spec.allowed));
      }
      if (spec.key == "mesh.labels" && item.find('=') == std::string::npos) {
        return InvalidArgument("mesh.labels item \"" + item + "\" is not key=value",
                               "write labels as \"key=value\", e.g. \"gpu=a100\"");
      }
    }
  }
  return Status::Ok();
}

// A kDurationSecs (whole seconds) or kBytes value written as text, in the grammar of
// util/units.h (docs/config.md, "Sizes and durations"); the key's range is checked afterwards.
Result<int64_t> ParseUnitValue(Type type, std::string_view text) {
  if (type == Type::kDurationSecs) return ParseDurationSecs(text);
  POPULI_ASSIGN_OR_RETURN(uint64_t bytes, ParseSize(text));
  if (bytes > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgument("invalid size \"" + std::string(text) + "\": too large",
                           "write at most 8388607T (a size here is below 2^63 bytes)");
  }
  return static_cast<int64_t>(bytes);
}

Result<Value> ParseValue(const KeySpec& spec, std::string_view raw) {
  std::string text = Trim(raw);
  Value value;
  switch (spec.type) {
    case Type::kBool: {
      std::string l = Lower(text);
      if (l == "1" || l == "true" || l == "yes" || l == "on") {
        value = true;
      } else if (l == "0" || l == "false" || l == "no" || l == "off") {
        value = false;
      } else {
        return InvalidArgument(std::string(spec.key) + ": \"" + text + "\" is not a bool",
                               "use true or false (1/0, yes/no, on/off also work)");
      }
      break;
    }
    case Type::kInt: {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
        return InvalidArgument(std::string(spec.key) + ": \"" + text + "\" is not an integer",
                               "write a whole number, e.g. " + std::string(spec.default_value));
      }
      value = n;
      break;
    }
    case Type::kDouble: {
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) {
        return InvalidArgument(std::string(spec.key) + ": \"" + text + "\" is not a number",
                               "write a number, e.g. " + std::string(spec.default_value));
      }
      value = d;
      break;
    }
    case Type::kString:
      // Secrets keep their exact bytes; other strings are trimmed.
      value = spec.secret ? std::string(raw) : text;
      break;
    case Type::kStringList: {
      std::vector<std::string> items;
      size_t start = 0;
      while (start <= text.size() && !text.empty()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        std::string item = Trim(std::string_view(text).substr(start, comma - start));
        if (!item.empty()) items.push_back(std::move(item));
        start = comma + 1;
      }
      value = std::move(items);
      break;
    }
    case Type::kDurationSecs:
    case Type::kBytes: {
      auto number = ParseUnitValue(spec.type, text);
      if (!number.ok()) return number.status().WithContext(spec.key);
      value = *number;
      break;
    }
  }
  POPULI_RETURN_IF_ERROR(ValidateValue(spec, value));
  return value;
}

std::string ClosestKey(std::string_view unknown) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const KeySpec& spec : Schema()) {
    size_t d = EditDistance(unknown, spec.key);
    // Also compare against the last segment alone, so "mesh.heartbeat_secs" finds
    // "mesh.control.heartbeat_secs".
    std::string_view leaf = spec.key.substr(spec.key.rfind('.') + 1);
    std::string_view unknown_leaf = unknown.substr(unknown.rfind('.') + 1);
    size_t leaf_d = EditDistance(unknown_leaf, leaf) + 1;
    d = std::min(d, leaf_d);
    // A truncated key ("mesh.control.heartbeat") is a near miss whatever its length.
    if (unknown.size() > 5 && spec.key.substr(0, unknown.size()) == unknown)
      d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(spec.key);
    }
  }
  size_t limit = std::max<size_t>(2, unknown.substr(unknown.rfind('.') + 1).size() / 2);
  return best_distance <= limit ? best : std::string();
}

// ---- Config ----

Config::Config() {
  for (const KeySpec& spec : Schema()) {
    auto value = ParseValue(spec, spec.default_value);
    assert(value.ok() && "schema default does not parse");
    values_.emplace(std::string(spec.key), value.ok() ? *value : Value{});
    origins_.emplace(std::string(spec.key), Origin{});
  }
  const char* home = std::getenv("VOX_HOME");
  if (home != nullptr && home[0] != '\0') {
    vox_home_ = home;
  } else {
    const char* user_home = std::getenv("HOME");
    vox_home_ = std::string(user_home != nullptr ? user_home : ".") + "/.vox";
  }
}

const Value& Config::Get(std::string_view key) const {
  auto it = values_.find(key);
  assert(it != values_.end() && "unknown config key");
  return it->second;
}

std::string Config::GetString(std::string_view key) const {
  const auto* s = std::get_if<std::string>(&Get(key));
  assert(s != nullptr && "config key is not a string");
  return s != nullptr ? *s : std::string();
}

int64_t Config::GetInt(std::string_view key) const {
  const auto* n = std::get_if<int64_t>(&Get(key));
  assert(n != nullptr && "config key is not an integer");
  return n != nullptr ? *n : 0;
}

int64_t Config::GetDurationSecs(std::string_view key) const {
  return GetInt(key);
}
int64_t Config::GetBytes(std::string_view key) const {
  return GetInt(key);
}

bool Config::GetBool(std::string_view key) const {
  const auto* b = std::get_if<bool>(&Get(key));
  assert(b != nullptr && "config key is not a bool");
  return b != nullptr && *b;
}

double Config::GetDouble(std::string_view key) const {
  const Value& v = Get(key);
  if (const auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
  const auto* d = std::get_if<double>(&v);
  assert(d != nullptr && "config key is not a number");
  return d != nullptr ? *d : 0.0;
}

std::vector<std::string> Config::GetList(std::string_view key) const {
  const auto* l = std::get_if<std::vector<std::string>>(&Get(key));
  assert(l != nullptr && "config key is not a list");
  return l != nullptr ? *l : std::vector<std::string>();
}

std::string Config::Render(std::string_view key) const {
  const Value& v = Get(key);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  if (const auto* d = std::get_if<double>(&v)) {
    std::string s = std::to_string(*d);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  std::string out;
  for (const std::string& item : std::get<std::vector<std::string>>(v)) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out;
}

bool Config::IsSet(std::string_view key) const {
  const Value& v = Get(key);
  if (const auto* s = std::get_if<std::string>(&v)) return !s->empty();
  if (const auto* l = std::get_if<std::vector<std::string>>(&v)) return !l->empty();
  return true;
}

const Origin& Config::OriginOf(std::string_view key) const {
  auto it = origins_.find(key);
  assert(it != origins_.end() && "unknown config key");
  return it->second;
}

std::string Config::data_dir() const {
  std::string path = GetString("mesh.store.path");
  return path.empty() ? vox_home_ + "/populi" : path;
}

void Config::Set(std::string_view key, Value value, Origin origin) {
  auto it = values_.find(key);
  assert(it != values_.end() && "unknown config key");
  if (it == values_.end()) return;
  it->second = std::move(value);
  origins_.find(key)->second = std::move(origin);
}

}  // namespace populi::config
