// docs/config.md's key tables, rendered from the schema so the two cannot drift.
#include <string>

#include "config/config.h"

namespace populi::config {
namespace {

std::string_view SectionOf(std::string_view key) {
  return key.substr(0, key.rfind('.'));
}

std::string EscapeCell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string RangeText(int64_t v) {
  if (v == INT64_MAX) return "max";
  return std::to_string(v);
}

std::string TypeCell(const KeySpec& spec) {
  std::string out(TypeName(spec.type));
  if (!spec.allowed.empty()) {
    std::string allowed(spec.allowed);
    for (char& c : allowed) {
      if (c == '|') c = ',';
    }
    out += ": " + allowed;
  } else if (spec.min != INT64_MIN) {
    out += " " + RangeText(spec.min) + "..=" + RangeText(spec.max);
  }
  if (spec.secret) out += ", secret";
  return out;
}

std::string DefaultCell(const KeySpec& spec) {
  if (spec.default_value.empty()) return "";
  if (spec.type == Type::kString) return "`\"" + std::string(spec.default_value) + "\"`";
  return "`" + std::string(spec.default_value) + "`";
}

}  // namespace

std::string RenderKeyDocs() {
  std::string out(kDocsBeginMarker);
  out += "\n";
  std::string_view section;
  for (const KeySpec& spec : Schema()) {
    if (SectionOf(spec.key) != section) {
      section = SectionOf(spec.key);
      out += "\n### [" + std::string(section) + "]\n\n";
      out += "| Key | Environment | Type | Default | Meaning |\n";
      out += "|---|---|---|---|---|\n";
    }
    out += "| `" + std::string(spec.key) + "` | `" + std::string(spec.env) + "` | " +
           EscapeCell(TypeCell(spec)) + " | " + EscapeCell(DefaultCell(spec)) + " | " +
           EscapeCell(spec.doc) + " |\n";
  }
  out += "\n### Deprecated environment names\n\n";
  out += "| Old name | Use instead | Key |\n|---|---|---|\n";
  for (const LegacyEnv& legacy : LegacyEnvNames()) {
    const KeySpec* spec = FindKey(legacy.key);
    std::string note = legacy.divide_by == 1000 ? " (value in ms, converted to s)" : "";
    out += "| `" + std::string(legacy.name) + "` | `" +
           std::string(spec != nullptr ? spec->env : "?") + "`" + note + " | `" +
           std::string(legacy.key) + "` |\n";
  }
  out += "\n";
  out += kDocsEndMarker;
  out += "\n";
  return out;
}

}  // namespace populi::config
