// Streaming read of server-sent events.
#include <curl/curl.h>

#include "client/http_client.h"
#include "client/internal.h"

namespace populi::client {
namespace {

// Splits the byte stream into lines and lines into events (the text/event-stream format:
// "field: value" lines, a blank line ends an event, lines starting with ':' are comments).
class EventParser {
 public:
  explicit EventParser(const std::function<bool(const SseEvent&)>& on_event)
      : on_event_(on_event) {}

  // False once the callback asked to stop.
  bool Feed(std::string_view bytes) {
    pending_.append(bytes);
    size_t start = 0;
    for (size_t newline; (newline = pending_.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      std::string_view line(pending_.data() + start, newline - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!Line(line)) {
        stopped_ = true;
        return false;
      }
    }
    pending_.erase(0, start);
    return true;
  }
  bool stopped() const { return stopped_; }

 private:
  bool Line(std::string_view line) {
    if (line.empty()) {
      if (!has_data_) return true;
      bool keep_going = on_event_(event_);
      event_ = SseEvent();
      has_data_ = false;
      return keep_going;
    }
    if (line.front() == ':') return true;
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (has_data_) event_.data += '\n';
      event_.data.append(value);
      has_data_ = true;
    } else if (field == "event") {
      event_.event = std::string(value);
    } else if (field == "id") {
      event_.id = std::string(value);
    }
    return true;
  }

  const std::function<bool(const SseEvent&)>& on_event_;
  std::string pending_;
  SseEvent event_;
  bool has_data_ = false;
  bool stopped_ = false;
};

struct StreamState {
  EventParser* parser;
  CURL* curl;
  std::string error_body;  // a non-200 answer is collected, not parsed as events
};

size_t OnStreamBytes(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<StreamState*>(user);
  long status = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    state->error_body.append(data, size * count);
    return size * count;
  }
  // Returning less than given makes libcurl abort the transfer (CURLE_WRITE_ERROR).
  return state->parser->Feed(std::string_view(data, size * count)) ? size * count : 0;
}

}  // namespace

Status HttpClient::StreamEvents(std::string_view path,
                                const std::function<bool(const SseEvent&)>& on_event,
                                int timeout_ms) {
  internal::EnsureCurlInitialized();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Internal("libcurl could not create a handle");
  const std::string url = base_url_ + std::string(path);
  EventParser parser(on_event);
  StreamState state{&parser, curl, {}};
  ClientResponse head;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnStreamBytes);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(
      curl, CURLOPT_HEADERFUNCTION,
      +[](char* data, size_t size, size_t count, void* user) -> size_t {
        internal::ParseHeaderLine(std::string_view(data, size * count),
                                  static_cast<HeaderList*>(user));
        return size * count;
      });
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head.headers);
  HeaderList extra = {{"Accept", "text/event-stream"}};
  auto* list = static_cast<curl_slist*>(PrepareHeaders(curl, extra, false));
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (parser.stopped()) return Status::Ok();  // the caller had what it wanted
  if (rc != CURLE_OK) return internal::TransportError(rc, base_url_, error_buffer);
  head.status = static_cast<int>(status);
  head.body = std::move(state.error_body);
  return StatusFromResponse(head, base_url_);
}

}  // namespace populi::client
