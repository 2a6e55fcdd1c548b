// Streaming read of server-sent events.
#include "client/connection.h"
#include "client/http_client.h"

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

}  // namespace

Status HttpClient::StreamEvents(std::string_view path,
                                const std::function<bool(const SseEvent&)>& on_event,
                                int timeout_ms, const HeaderList& extra_headers) {
  EventParser parser(on_event);
  HeaderList wanted{{"Accept", "text/event-stream"}};
  wanted.insert(wanted.end(), extra_headers.begin(), extra_headers.end());
  const HeaderList headers = BuildHeaders(wanted, false);
  // Its own connection: the stream holds it until the server or the callback ends it. A replica
  // that cannot be reached is skipped for the next (a stream is a GET: it never runs twice).
  Result<ClientResponse> head = InvalidArgument("no control plane URL", "set the control URL");
  bool stopped = false;
  for (size_t tried = 0; tried < urls_.size(); ++tried) {
    if (tried > 0) {
      std::lock_guard lock(mu_);
      MoveToNextUrl();
    }
    internal::Connection connection(base_url(), ca_file_);
    ActiveCall active(*this, connection);
    head = connection.Stream(
        {"GET", path, &headers, {}}, timeout_ms,
        [&parser](std::string_view bytes) { return parser.Feed(bytes); }, &stopped);
    if (stopped || parser.stopped()) return Status::Ok();  // the caller had what it wanted
    if (head.ok() || !connection.failed_before_send() || aborted_.load()) break;
  }
  if (!head.ok()) return head.status();
  return StatusFromResponse(*head, base_url());
}

Result<ClientResponse> HttpClient::SendForEvents(
    std::string_view method, std::string_view path, std::string_view body,
    const std::function<bool(const SseEvent&)>& on_event, int timeout_ms,
    const HeaderList& extra_headers) {
  EventParser parser(on_event);
  HeaderList wanted{{"Accept", "text/event-stream"}};
  wanted.insert(wanted.end(), extra_headers.begin(), extra_headers.end());
  const HeaderList headers = BuildHeaders(wanted, !body.empty());
  internal::Connection connection(urls_.front(), ca_file_);
  ActiveCall active(*this, connection);
  bool stopped = false;
  return connection.Stream(
      {method, path, &headers, body}, timeout_ms,
      [&parser](std::string_view bytes) { return parser.Feed(bytes); }, &stopped);
}

}  // namespace populi::client
