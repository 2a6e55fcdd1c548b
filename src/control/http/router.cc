// Router and the small value helpers declared in http.h (no Asio here).
#include <algorithm>
#include <cctype>

#include "control/http/http.h"

namespace populi::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Splits "/a/b/c" into {"a","b","c"}; empty segments (from "//" or a trailing "/") are kept so
// "/nodes/" does not match "/nodes/{id}" with an empty id.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      break;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool SegmentsMatch(const std::vector<std::string>& want, const std::vector<std::string_view>& got) {
  if (want.size() != got.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (IsParam(want[i]) ? got[i].empty() : want[i] != got[i]) return false;
  }
  return true;
}

std::map<std::string, std::string> ParamsOf(const std::vector<std::string>& want,
                                            const std::vector<std::string_view>& got) {
  std::map<std::string, std::string> params;
  for (size_t i = 0; i < want.size(); ++i) {
    if (IsParam(want[i])) params.emplace(want[i].substr(1, want[i].size() - 2), got[i]);
  }
  return params;
}

}  // namespace

std::string_view ToString(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::string_view ToString(Role r) {
  switch (r) {
    case Role::kReadOnly:
      return "read_only";
    case Role::kSubmitter:
      return "submitter";
    case Role::kWorker:
      return "worker";
    case Role::kMesh:
      return "mesh";
    case Role::kAdmin:
      return "admin";
  }
  return "read_only";
}

Result<Role> ParseRole(std::string_view s) {
  for (Role r : {Role::kReadOnly, Role::kSubmitter, Role::kWorker, Role::kMesh, Role::kAdmin}) {
    if (s == ToString(r)) return r;
  }
  if (s == "read-only") return Role::kReadOnly;
  return InvalidArgument("unknown role '" + std::string(s) + "'",
                         "use one of admin, mesh, worker, submitter, read_only");
}

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

Response& Response::SetHeader(std::string name, std::string value) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (auto& [key, existing] : headers) {
    if (key == name) {
      existing = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

void Router::Add(Route route) {
  Pattern pattern;
  for (std::string_view seg : Segments(route.pattern)) {
    pattern.segments.emplace_back(seg);
    pattern.literals += IsParam(seg) ? 0 : 1;
  }
  patterns_.push_back(std::move(pattern));
  routes_.push_back(std::move(route));
}

const Route* Router::Match(Method method, std::string_view path,
                           std::map<std::string, std::string>* params, bool* path_exists) const {
  if (path_exists != nullptr) *path_exists = false;
  const std::vector<std::string_view> got = Segments(path);
  // Literal segments win over parameters: "/nodes/self" beats "/nodes/{id}" whatever the order
  // of registration, so the most literal match is chosen.
  size_t best = routes_.size();
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (!SegmentsMatch(patterns_[i].segments, got)) continue;
    if (routes_[i].method != method) {
      if (path_exists != nullptr) *path_exists = true;
      continue;
    }
    if (best == routes_.size() || patterns_[i].literals > patterns_[best].literals) best = i;
  }
  if (best == routes_.size()) return nullptr;
  if (params != nullptr) *params = ParamsOf(patterns_[best].segments, got);
  return &routes_[best];
}

}  // namespace populi::http
