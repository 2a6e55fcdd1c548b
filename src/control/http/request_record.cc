#include "control/http/request_record.h"

#include <algorithm>

#include "obs/span.h"

namespace populi::http {
namespace {

constexpr size_t kMaxRequestIdBytes = 128;

// The request's server span, with the OpenTelemetry HTTP names where they fit. Never the query
// string, headers or body: those may carry tokens and secrets.
void RecordServerSpan(obs::SpanSink& spans, const FinishedRequest& f) {
  const Request& req = f.request;
  obs::Span span;
  span.trace_id = req.trace.trace_id;
  span.span_id = req.trace.span_id;
  if (req.trace_parent.valid()) span.parent_span_id = req.trace_parent.span_id;
  const std::string_view method = ToString(req.method);
  // One allocation for the name (a concatenation of temporaries makes two).
  const std::string_view pattern = f.route != nullptr ? f.route->pattern : std::string_view();
  span.name.reserve(method.size() + 1 + pattern.size());
  span.name.append(method);
  if (!pattern.empty()) span.name.append(" ").append(pattern);
  span.kind = obs::SpanKind::kServer;
  span.end_unix_ns = obs::UnixNanosNow();
  span.start_unix_ns = span.end_unix_ns - static_cast<int64_t>(f.ms * 1e6);
  span.service = "vox-control-plane";
  span.error = f.status >= 500;
  span.attributes.reserve(10);
  span.Set("http.request.method", std::string(method));
  if (f.route != nullptr) span.Set("http.route", f.route->pattern);
  span.Set("url.path", req.path);
  span.Set("http.response.status_code", static_cast<int64_t>(f.status));
  span.Set("client.address", std::string(f.remote_ip));
  span.Set("vox.mesh.route", std::string(f.route_name));
  span.Set("vox.mesh.request_id", req.request_id);
  if (!req.principal.token_label.empty()) span.Set("vox.mesh.principal", req.principal.token_label);
  if (auto node = req.Header("x-vox-node-id"); !node.empty()) {
    span.Set("vox.mesh.peer_id", std::string(node));
  }
  spans.Record(std::move(span));
}

}  // namespace

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

Response HandlerFailed(const std::string& request_id, const char* what) {
  return ErrorResponse(Internal(std::string("request handler failed: ") + what,
                                "this is a bug in the control plane; the log has the request id"),
                       request_id);
}

void RecordFinishedRequest(const ServerOptions& options, spdlog::logger& logger,
                           const FinishedRequest& f) {
  const Request& req = f.request;
  // Probes (Route::traced false) make a span only when the caller continues a trace.
  const bool traced = f.route == nullptr || f.route->traced || req.trace_parent.valid();
  if (options.spans != nullptr && req.trace.valid() && req.trace.sampled() && traced) {
    RecordServerSpan(*options.spans, f);
  }
  // Only the label is logged, never the credential; the query string is left out because
  // clients sometimes put secrets there.
  logger.info(
      "http request_id={} principal={} route={} method={} path={} status={} duration_ms={:.2f} "
      "remote={}",
      req.request_id, req.principal.token_label.empty() ? "-" : req.principal.token_label,
      f.route_name, ToString(req.method), req.path, f.status, f.ms, f.remote);
  if (options.on_request_done) {
    const Principal& who = req.principal;
    options.on_request_done({f.route_name, req.method, f.status, f.ms, f.refusal,
                             who.anonymous ? std::string_view() : who.token_label, f.remote_ip});
  }
}

}  // namespace populi::http
