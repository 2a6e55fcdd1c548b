// POST /v1/populi/spans (agents send their spans in batches) and GET /v1/populi/traces/{id}.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "obs/span_json.h"

namespace populi::control {
namespace json = boost::json;

namespace {

Status TracingOff() {
  return Status(Code::kFailedPrecondition, "tracing is off on this control plane",
                "set [mesh.observability] tracing = true and restart serve");
}

http::Response IngestSpans(ApiContext& ctx, http::Request& req) {
  if (ctx.spans == nullptr) return Error(TracingOff(), req);
  auto parsed = mesh::ParseJson(req.body);
  if (!parsed.ok()) return Error(parsed.status(), req);
  auto spans = obs::SpanBatchFromJson(*parsed);
  if (!spans.ok()) return Error(spans.status(), req);
  // An agent's spans say which node recorded them; the header is the same node's own claim.
  const std::string node(req.Header("x-vox-node-id"));
  for (obs::Span& s : *spans) {
    s.service = "vox-agent";
    if (s.node_id.empty()) s.node_id = node;
    ctx.spans->Record(std::move(s));
  }
  return Json(json::object{{"accepted", spans->size()}}, 202);
}

http::Response GetTrace(ApiContext& ctx, http::Request& req) {
  if (ctx.spans == nullptr) return Error(TracingOff(), req);
  const std::string& id = req.params["trace_id"];
  obs::TraceId trace_id{};
  if (!obs::FromHex(id, trace_id.data(), trace_id.size())) {
    return Error(InvalidArgument("trace id '" + id + "' is not 32 lowercase hex characters",
                                 "pass a trace id, or a task id to `vox populi trace`"),
                 req);
  }
  const std::vector<obs::Span> spans = ctx.spans->Trace(trace_id);
  if (spans.empty()) {
    return Error(NotFound("no spans of trace " + id + " are held",
                          "spans are kept in memory for a while (docs/observability.md); "
                          "set an OTLP collector for history"),
                 req);
  }
  json::array list;
  for (const auto& s : spans) list.push_back(obs::ToJson(s));
  return Json(json::object{{"trace_id", id}, {"spans", std::move(list)}});
}

}  // namespace

void AddTraceRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kPost, "/v1/populi/spans", NodePlaneRoles(), 1024 * 1024,
              "spans.ingest", [&ctx](http::Request& req) { return IngestSpans(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/traces/{trace_id}", AnyRole(), 0, "traces.get",
              [&ctx](http::Request& req) { return GetTrace(ctx, req); }});
}

}  // namespace populi::control
