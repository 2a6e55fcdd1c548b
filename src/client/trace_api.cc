// ControlPlaneApi: agents' span batches and reading one trace.
#include <boost/json.hpp>

#include "client/api_call.h"
#include "client/control_plane_api.h"
#include "mesh/json_reader.h"
#include "obs/span_json.h"

namespace populi::client {
namespace json = boost::json;

namespace {

Result<std::vector<obs::Span>> TraceReplyFromJson(const json::value& v) {
  mesh::FieldReader r(v, "");
  std::string trace_id;
  std::vector<obs::Span> spans;
  r.Str("trace_id", trace_id, true);
  r.List(
      "spans", spans,
      [](const json::value& e, const std::string& path) { return obs::SpanFromJson(e, path); },
      true);
  if (!r.Finish().ok()) return r.status();
  return spans;
}

}  // namespace

Status ControlPlaneApi::SendSpans(const std::vector<obs::Span>& spans, CallOptions options) {
  if (spans.empty()) return Status::Ok();
  return http_->Send("POST", "/v1/populi/spans", obs::SpanBatchJson(spans), {}, Timeout(options))
      .status();
}

Result<std::vector<obs::Span>> ControlPlaneApi::Trace(const std::string& trace_id,
                                                      CallOptions options) {
  return internal::Call<std::vector<obs::Span>>(*http_, "GET",
                                                "/v1/populi/traces/" + internal::Escape(trace_id),
                                                {}, Timeout(options), TraceReplyFromJson);
}

}  // namespace populi::client
