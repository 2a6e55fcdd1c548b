// Password redaction for connection strings (logs, errors, stats). Plain C++: no libpq needed.
#include <cctype>
#include <string>

#include "store/postgres.h"

namespace populi::store {
namespace {

bool StartsWithAt(std::string_view s, size_t at, std::string_view prefix) {
  return s.substr(at, prefix.size()) == prefix;
}

// key=value form: every `password = value` (value quoted with '…' or bare) becomes password=***.
std::string RedactKeyValue(std::string_view dsn) {
  std::string out;
  size_t i = 0;
  while (i < dsn.size()) {
    const bool at_word = i == 0 || std::isspace(static_cast<unsigned char>(dsn[i - 1]));
    if (at_word && StartsWithAt(dsn, i, "password")) {
      size_t j = i + 8;
      while (j < dsn.size() && dsn[j] == ' ') ++j;
      if (j < dsn.size() && dsn[j] == '=') {
        ++j;
        while (j < dsn.size() && dsn[j] == ' ') ++j;
        if (j < dsn.size() && dsn[j] == '\'') {
          for (++j; j < dsn.size() && dsn[j] != '\''; ++j) {
            if (dsn[j] == '\\') ++j;
          }
          ++j;
        } else {
          while (j < dsn.size() && !std::isspace(static_cast<unsigned char>(dsn[j]))) ++j;
        }
        out += "password=***";
        i = std::min(j, dsn.size());
        continue;
      }
    }
    out += dsn[i++];
  }
  return out;
}

// URL form: postgresql://user:secret@host/db?password=secret → the secrets become ***.
std::string RedactUrl(std::string_view dsn) {
  std::string out(dsn);
  const size_t scheme = out.find("://");
  const size_t at = out.find('@', scheme + 3);
  const size_t slash = out.find('/', scheme + 3);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    const size_t colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
    const size_t end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

}  // namespace

std::string RedactPostgresDsn(std::string_view dsn) {
  if (dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0) {
    return RedactUrl(dsn);
  }
  return RedactKeyValue(dsn);
}

}  // namespace populi::store
