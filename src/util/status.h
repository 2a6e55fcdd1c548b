// Status and Result<T>: the one error type that crosses module boundaries.
//
// A Status is either ok or carries a machine-readable Code, a one-line message saying what
// happened, and a one-line hint saying what to do next. No exceptions cross module boundaries:
// every fallible public function returns Status or Result<T>.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace populi {

// Closed vocabulary. The HTTP layer maps each to a status code (control/http/errors.cc) and
// the wire carries code_name(); the CLI maps them to exit codes. Append only.
enum class Code {
  kOk = 0,
  kInvalidArgument,     // bad input from the caller (400)
  kNotFound,            // (404)
  kConflict,            // state conflict, e.g. lease held by another node (409)
  kAlreadyExists,       // (409)
  kFailedPrecondition,  // the system is not in a state to do this (409 / 412)
  kUnauthenticated,     // missing or unknown credential (401)
  kPermissionDenied,    // credential lacks the role, or scope mismatch (403)
  kGone,                // one-time thing already consumed or expired (410)
  kTooLarge,            // body or field over its limit (413)
  kResourceExhausted,   // rate limit or inbox cap; retry later (429)
  kStoreFull,           // disk or database full (507)
  kStoreIo,             // I/O failure under the store (503)
  kUnavailable,         // transient: peer unreachable, shutting down (503)
  kTimeout,             // deadline passed (504)
  kInternal,            // a bug (500)
};

// Stable snake_case name used on the wire and in --json output ("not_found", "store_full", ...).
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  // Every error carries a hint: what the caller can do next (never empty; see docs/api.md).
  Status(Code code, std::string message, std::string hint)
      : code_(code), message_(std::move(message)), hint_(std::move(hint)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }

  // "not_found: node n1 is not registered (hint: ...)"; for logs and tests.
  std::string ToString() const;

  // Prefixes the message with context, keeping code and hint: "open store: <message>".
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string hint_;
};

inline Status InvalidArgument(std::string msg, std::string hint) {
  return {Code::kInvalidArgument, std::move(msg), std::move(hint)};
}
inline Status NotFound(std::string msg, std::string hint) {
  return {Code::kNotFound, std::move(msg), std::move(hint)};
}
inline Status Conflict(std::string msg, std::string hint) {
  return {Code::kConflict, std::move(msg), std::move(hint)};
}
inline Status FailedPrecondition(std::string msg, std::string hint) {
  return {Code::kFailedPrecondition, std::move(msg), std::move(hint)};
}
inline Status Internal(std::string msg, std::string hint) {
  return {Code::kInternal, std::move(msg), std::move(hint)};
}
inline Status Unavailable(std::string msg, std::string hint) {
  return {Code::kUnavailable, std::move(msg), std::move(hint)};
}

// Result<T>: a value or a non-ok Status. Accessing value() of an error is a bug (asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace populi

// Returns early with the Status if `expr` (a Status) is not ok.
#define POPULI_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::populi::Status populi_status_ = (expr);        \
    if (!populi_status_.ok()) return populi_status_; \
  } while (0)

#define POPULI_CONCAT_INNER_(a, b) a##b
#define POPULI_CONCAT_(a, b) POPULI_CONCAT_INNER_(a, b)
// POPULI_ASSIGN_OR_RETURN(auto x, Foo()); returns Foo()'s Status on error.
#define POPULI_ASSIGN_OR_RETURN(lhs, expr) \
  POPULI_ASSIGN_OR_RETURN_IMPL_(POPULI_CONCAT_(populi_result_, __LINE__), lhs, expr)
#define POPULI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
