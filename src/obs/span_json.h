// Spans as JSON: the API's own form (agents → control plane, GET /v1/populi/traces/{id}) and the
// OTLP/HTTP JSON encoding of an ExportTraceServiceRequest (trace and span ids in hex, 64-bit
// integers as decimal strings, kinds and status codes as OTLP's numbers).
#pragma once

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "obs/span.h"
#include "util/status.h"

namespace populi::obs {

// {"trace_id","span_id","parent_span_id","name","kind","start_unix_ns","end_unix_ns","error",
//  "status_message","service","node_id","attributes":{key: string|int|double|bool}}
boost::json::value ToJson(const Span& span);
// Strict: unknown fields, bad ids and over-bound strings are kInvalidArgument naming the field.
Result<Span> SpanFromJson(const boost::json::value& v, const std::string& path = "span");

// A batch of spans an agent sends: {"spans":[…]}, at most kMaxSpansPerBatch.
inline constexpr size_t kMaxSpansPerBatch = 1'000;
std::string SpanBatchJson(const std::vector<Span>& spans);
Result<std::vector<Span>> SpanBatchFromJson(const boost::json::value& v);

// {"resourceSpans":[…]} with one resource per (service, node id), scope "populi" at `version`.
std::string OtlpTracesJson(const std::vector<Span>& spans, const std::string& version);

}  // namespace populi::obs
