#include "client/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <chrono>
#include <thread>

#include "client/internal.h"
#include "util/random.h"

namespace populi::client {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  internal::ParseHeaderLine(std::string_view(data, size * count), static_cast<HeaderList*>(user));
  return size * count;
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

namespace internal {

void EnsureCurlInitialized() {
  static const bool initialized = [] {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  }();
  (void)initialized;
}

void ParseHeaderLine(std::string_view line, HeaderList* headers) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100 Continue or a redirect) starts over
    return;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  headers->emplace_back(std::move(name), std::string(value));
}

Status TransportError(int curl_code, const std::string& url, const char* detail) {
  const auto code = static_cast<CURLcode>(curl_code);
  const std::string what =
      detail != nullptr && detail[0] != '\0' ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status(Code::kTimeout, "request to " + url + " timed out: " + what,
                    "retry; if it persists check the control plane's load and the network");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return Unavailable("TLS with the control plane at " + url + " failed: " + what,
                         "check the CA file for the mesh certificate and the URL's host name");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgument("control plane URL " + url + " is not valid: " + what,
                             "use http://HOST:PORT or https://HOST:PORT");
    default:
      return Unavailable("control plane unreachable at " + url + ": " + what,
                         "start it with `vox populi serve`, or check the mesh URL "
                         "(--url or mesh.url in ~/.vox/config.toml)");
  }
}

}  // namespace internal

std::string_view ClientResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

HttpClient::HttpClient(std::string base_url, std::string token)
    : base_url_(std::move(base_url)), token_(std::move(token)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  internal::EnsureCurlInitialized();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

void* HttpClient::PrepareHeaders(void* handle, const HeaderList& headers, bool has_body) const {
  CURL* curl = static_cast<CURL*>(handle);
  curl_slist* list = nullptr;
  // The one place the client spells the credential header (matches control/http/auth.h).
  if (!token_.empty()) list = curl_slist_append(list, ("Authorization: Bearer " + token_).c_str());
  if (!node_id_.empty()) list = curl_slist_append(list, ("x-vox-node-id: " + node_id_).c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  if (has_body) list = curl_slist_append(list, "Content-Type: application/json");
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (!ca_file_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  return list;
}

Result<ClientResponse> HttpClient::SendOnce(std::string_view method, std::string_view path,
                                            std::string_view body, const HeaderList& headers,
                                            int timeout_ms) {
  std::lock_guard lock(mu_);
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("libcurl could not create a handle");
  curl_easy_reset(curl);  // keeps the connection cache: the next call reuses the connection
  const std::string url = base_url_ + std::string(path);
  const std::string method_text(method);
  ClientResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(timeout_ms, 10'000)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  auto* list = static_cast<curl_slist*>(PrepareHeaders(curl, headers, !body.empty()));
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) return internal::TransportError(rc, base_url_, error_buffer);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

Result<ClientResponse> HttpClient::SendRaw(std::string_view method, std::string_view path,
                                           std::string_view body, const HeaderList& headers,
                                           int timeout_ms) {
  const bool may_retry = retry_.max_attempts > 1 && IsIdempotent(method, headers);
  for (int attempt = 1;; ++attempt) {
    Result<ClientResponse> result = SendOnce(method, path, body, headers, timeout_ms);
    if (!may_retry || attempt >= retry_.max_attempts || !IsRetryable(result)) return result;
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
  Status status = StatusFromResponse(response, base_url_);
  if (!status.ok()) return status;
  return response;
}

Status HttpClient::StatusFromResponse(const ClientResponse& response, std::string_view url) {
  if (response.status >= 200 && response.status < 300) return Status::Ok();
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(response.body, ec);
  if (!ec && parsed.is_object()) {
    const auto* error = parsed.as_object().if_contains("error");
    if (error != nullptr && error->is_object()) {
      const auto& fields = error->as_object();
      auto text = [&fields](const char* key) -> std::string {
        const auto* v = fields.if_contains(key);
        return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      Code code = CodeFromName(text("code"));
      if (code == Code::kOk) code = CodeFromHttpStatus(response.status);
      std::string message = text("message");
      if (message.empty()) message = "HTTP " + std::to_string(response.status);
      return Status(code, std::move(message), text("hint"));
    }
  }
  return Status(CodeFromHttpStatus(response.status),
                "HTTP " + std::to_string(response.status) + " from " + std::string(url),
                "the response had no error body; check that the URL points at a mesh control "
                "plane");
}

}  // namespace populi::client
