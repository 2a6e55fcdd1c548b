#include "client/http_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "client/connection.h"
#include "mesh/json.h"
#include "mesh/replies_json.h"
#include "obs/span.h"
#include "util/random.h"

namespace populi::client {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Code CodeFromName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
    if (CodeName(static_cast<Code>(i)) == name) return static_cast<Code>(i);
  }
  return Code::kInternal;
}

Code CodeFromHttpStatus(int status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 413:
    case 431:
      return Code::kTooLarge;
    case 429:
      return Code::kResourceExhausted;
    case 503:
      return Code::kUnavailable;
    case 504:
      return Code::kTimeout;
    case 507:
      return Code::kStoreFull;
    default:
      return status >= 400 && status < 500 ? Code::kInvalidArgument : Code::kInternal;
  }
}

bool IsIdempotent(std::string_view method, const HeaderList& headers) {
  if (method == "GET" || method == "PUT" || method == "DELETE" || method == "HEAD") return true;
  return std::any_of(headers.begin(), headers.end(),
                     [](const auto& h) { return EqualsIgnoreCase(h.first, "idempotency-key"); });
}

bool IsRetryable(const Result<ClientResponse>& result) {
  if (!result.ok()) {
    return result.status().code() == Code::kUnavailable || result.status().code() == Code::kTimeout;
  }
  int status = result->status;
  return status == 429 || status == 502 || status == 503 || status == 504;
}

}  // namespace

std::string_view ClientResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

HttpClient::HttpClient(std::string base_url, std::string token) : token_(std::move(token)) {
  size_t at = 0;
  while (at <= base_url.size()) {
    size_t comma = base_url.find(',', at);
    if (comma == std::string::npos) comma = base_url.size();
    std::string url = base_url.substr(at, comma - at);
    while (!url.empty() && url.front() == ' ') url.erase(url.begin());
    while (!url.empty() && (url.back() == '/' || url.back() == ' ')) url.pop_back();
    if (!url.empty()) urls_.push_back(std::move(url));
    at = comma + 1;
  }
  if (urls_.empty()) urls_.emplace_back();  // an unusable URL, reported by the first call
}

void HttpClient::MoveToNextUrl() {
  current_.store((current_.load() + 1) % urls_.size());
  connection_.reset();
}

HttpClient::~HttpClient() = default;

void HttpClient::Abort() {
  std::lock_guard lock(active_mu_);
  aborted_.store(true);
  for (internal::Connection* c : active_) c->Abort();
}

void HttpClient::set_tls_ca_file(std::string path) {
  std::lock_guard lock(mu_);
  ca_file_ = std::move(path);
  connection_.reset();  // the next call verifies against the new file
}

HeaderList HttpClient::BuildHeaders(const HeaderList& extra, bool has_body) const {
  HeaderList headers;
  headers.reserve(extra.size() + 3);
  // The one place the client spells the credential header (matches control/http/auth.h).
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  if (!node_id_.empty()) headers.emplace_back("x-vox-node-id", node_id_);
  if (has_body) headers.emplace_back("Content-Type", "application/json");
  headers.insert(headers.end(), extra.begin(), extra.end());
  // Every call carries a trace context: the thread's current one (an agent running a task), or
  // a new root, so the server's span of this call is findable by the id the caller holds.
  const bool has_trace = std::any_of(extra.begin(), extra.end(),
                                     [](const auto& h) { return h.first == "traceparent"; });
  if (!has_trace) {
    if (const obs::TraceContext* current = obs::CurrentContext()) {
      headers.emplace_back("traceparent", current->Traceparent());
      if (!current->tracestate.empty()) headers.emplace_back("tracestate", current->tracestate);
    } else {
      headers.emplace_back("traceparent", obs::NewRootContext().Traceparent());
    }
  }
  return headers;
}

Result<ClientResponse> HttpClient::SendOnce(std::string_view method, std::string_view path,
                                            std::string_view body, const HeaderList& headers,
                                            int timeout_ms) {
  std::lock_guard lock(mu_);
  const HeaderList all = BuildHeaders(headers, !body.empty());
  const bool idempotent = IsIdempotent(method, headers);
  Result<ClientResponse> result =
      InvalidArgument("no control plane URL", "set [mesh.control] url or pass --control-url");
  for (size_t tried = 0; tried < urls_.size(); ++tried) {
    if (tried > 0) MoveToNextUrl();
    if (!connection_) connection_ = std::make_unique<internal::Connection>(base_url(), ca_file_);
    {
      ActiveCall active(*this, *connection_);
      result = connection_->Exchange({method, path, &all, body}, timeout_ms);
    }
    if (aborted_.load()) return result;  // no other replica: the caller ended the call
    const bool replica_away = !result.ok() && (result.status().code() == Code::kUnavailable ||
                                               result.status().code() == Code::kTimeout);
    // Another replica only where the request cannot run twice (see http_client.h).
    if (!replica_away || !(idempotent || connection_->failed_before_send())) return result;
  }
  return result;
}

Result<ClientResponse> HttpClient::SendRaw(std::string_view method, std::string_view path,
                                           std::string_view body, const HeaderList& headers,
                                           int timeout_ms) {
  const bool may_retry = retry_.max_attempts > 1 && IsIdempotent(method, headers);
  for (int attempt = 1;; ++attempt) {
    Result<ClientResponse> result = SendOnce(method, path, body, headers, timeout_ms);
    if (!may_retry || attempt >= retry_.max_attempts || !IsRetryable(result) || aborted_.load()) {
      return result;
    }
    const int64_t ceiling =
        std::min<int64_t>(retry_.max_backoff_ms, static_cast<int64_t>(retry_.initial_backoff_ms)
                                                     << std::min(attempt - 1, 20));
    int64_t sleep_ms = static_cast<int64_t>(RandomBelow(static_cast<uint64_t>(ceiling) + 1));
    if (result.ok()) {
      std::string_view retry_after = result->Header("retry-after");
      if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit) &&
          retry_after.size() < 6) {
        sleep_ms = std::max<int64_t>(sleep_ms, std::stoll(std::string(retry_after)) * 1000);
      }
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min<int64_t>(sleep_ms, retry_.max_backoff_ms)));
  }
}

Result<ClientResponse> HttpClient::Send(std::string_view method, std::string_view path,
                                        std::string_view body, const HeaderList& headers,
                                        int timeout_ms) {
  POPULI_ASSIGN_OR_RETURN(ClientResponse response,
                          SendRaw(method, path, body, headers, timeout_ms));
  Status status = StatusFromResponse(response, base_url());
  if (!status.ok()) return status;
  return response;
}

Status HttpClient::StatusFromResponse(const ClientResponse& response, std::string_view url) {
  if (response.status >= 200 && response.status < 300) return Status::Ok();
  auto doc = mesh::ParseJson(response.body);
  auto error = doc.ok() ? mesh::ErrorReplyFromJson(*doc) : Result<mesh::ErrorReply>(doc.status());
  if (error.ok()) {
    Code code = CodeFromName(error->code);
    if (code == Code::kOk) code = CodeFromHttpStatus(response.status);
    std::string message = error->message;
    if (message.empty()) message = "HTTP " + std::to_string(response.status);
    return Status(code, std::move(message), error->hint);
  }
  return Status(CodeFromHttpStatus(response.status),
                "HTTP " + std::to_string(response.status) + " from " + std::string(url),
                "the response had no error body; check that the URL points at a mesh control "
                "plane");
}

}  // namespace populi::client
