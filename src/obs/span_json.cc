#include "obs/span_json.h"

#include <boost/json.hpp>
#include <map>
#include <utility>

#include "mesh/json.h"
#include "mesh/json_reader.h"

namespace populi::obs {
namespace json = boost::json;

namespace {

constexpr char kSpanHint[] = "see docs/observability.md for the span fields";

std::string_view KindName(SpanKind k) {
  return ToString(k);
}

Result<SpanKind> ParseKind(std::string_view s) {
  for (SpanKind k : {SpanKind::kInternal, SpanKind::kServer, SpanKind::kClient, SpanKind::kProducer,
                     SpanKind::kConsumer}) {
    if (ToString(k) == s) return k;
  }
  return InvalidArgument("unknown span kind '" + std::string(s) + "'",
                         "use internal, server, client, producer or consumer");
}

json::value AttributeJson(const AttributeValue& v) {
  return std::visit([](const auto& x) -> json::value { return json::value(x); }, v);
}

template <size_t N>
bool ReadId(mesh::FieldReader& r, std::string_view key, std::array<uint8_t, N>& out,
            bool required) {
  std::string hex;
  r.Str(key, hex, required);
  if (!r.ok() || (hex.empty() && !required)) return r.ok();
  if (!FromHex(hex, out.data(), N)) {
    r.Fail(key, "expected " + std::to_string(2 * N) + " lowercase hex characters");
    return false;
  }
  return true;
}

// OTLP's AnyValue.
json::object OtlpValue(const AttributeValue& v) {
  json::object o;
  if (const auto* s = std::get_if<std::string>(&v)) {
    o["stringValue"] = *s;
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    o["intValue"] = std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    o["doubleValue"] = *d;
  } else {
    o["boolValue"] = std::get<bool>(v);
  }
  return o;
}

json::object OtlpKeyValue(std::string_view key, const AttributeValue& v) {
  return json::object{{"key", key}, {"value", OtlpValue(v)}};
}

json::object OtlpSpan(const Span& s) {
  json::object o;
  o["traceId"] = ToHex(s.trace_id.data(), s.trace_id.size());
  o["spanId"] = ToHex(s.span_id.data(), s.span_id.size());
  if (s.has_parent()) o["parentSpanId"] = ToHex(s.parent_span_id.data(), s.parent_span_id.size());
  o["name"] = s.name;
  o["kind"] = static_cast<int>(s.kind);
  o["startTimeUnixNano"] = std::to_string(s.start_unix_ns);
  o["endTimeUnixNano"] = std::to_string(s.end_unix_ns);
  json::array attributes;
  for (const auto& a : s.attributes) attributes.push_back(OtlpKeyValue(a.key, a.value));
  o["attributes"] = std::move(attributes);
  if (s.dropped_attributes > 0) o["droppedAttributesCount"] = s.dropped_attributes;
  json::object status;
  status["code"] = s.error ? 2 : 0;  // STATUS_CODE_ERROR, or UNSET
  if (s.error && !s.status_message.empty()) status["message"] = s.status_message;
  o["status"] = std::move(status);
  return o;
}

}  // namespace

json::value ToJson(const Span& s) {
  json::object o;
  o["trace_id"] = ToHex(s.trace_id.data(), s.trace_id.size());
  o["span_id"] = ToHex(s.span_id.data(), s.span_id.size());
  if (s.has_parent()) {
    o["parent_span_id"] = ToHex(s.parent_span_id.data(), s.parent_span_id.size());
  }
  o["name"] = s.name;
  o["kind"] = KindName(s.kind);
  o["start_unix_ns"] = s.start_unix_ns;
  o["end_unix_ns"] = s.end_unix_ns;
  if (s.error) {
    o["error"] = true;
    o["status_message"] = s.status_message;
  }
  o["service"] = s.service;
  if (!s.node_id.empty()) o["node_id"] = s.node_id;
  json::object attributes;
  for (const auto& a : s.attributes) attributes[a.key] = AttributeJson(a.value);
  o["attributes"] = std::move(attributes);
  return o;
}

Result<Span> SpanFromJson(const json::value& v, const std::string& path) {
  mesh::ReadOptions options;
  options.unknown = mesh::UnknownFields::kReject;
  options.hint = kSpanHint;
  mesh::FieldReader r(v, path, options);
  Span s;
  ReadId(r, "trace_id", s.trace_id, true);
  ReadId(r, "span_id", s.span_id, true);
  ReadId(r, "parent_span_id", s.parent_span_id, false);
  std::string kind = "internal";
  r.Str("name", s.name, true);
  r.Str("kind", kind);
  r.Int("start_unix_ns", s.start_unix_ns, 0, std::numeric_limits<int64_t>::max(), true);
  r.Int("end_unix_ns", s.end_unix_ns, 0, std::numeric_limits<int64_t>::max(), true);
  r.Bool("error", s.error);
  r.Str("status_message", s.status_message);
  r.Str("service", s.service);
  r.Str("node_id", s.node_id);
  json::object attributes;
  r.Field("attributes", attributes, [](const json::value& x) -> Result<json::object> {
    if (!x.is_object()) return InvalidArgument("expected an object", kSpanHint);
    return x.get_object();
  });
  if (!r.Finish().ok()) return r.status();
  auto parsed_kind = ParseKind(kind);
  if (!parsed_kind.ok()) return parsed_kind.status();
  s.kind = *parsed_kind;
  if (s.name.empty() || s.name.size() > kMaxAttributeBytes || s.service.size() > 64 ||
      s.node_id.size() > kMaxAttributeBytes || s.status_message.size() > kMaxAttributeBytes) {
    return InvalidArgument(path + ": name, service, node_id or status_message is empty or too long",
                           kSpanHint);
  }
  TraceContext ids;
  ids.trace_id = s.trace_id;
  ids.span_id = s.span_id;
  if (!ids.valid())
    return InvalidArgument(path + ": trace_id and span_id must not be all zeros", kSpanHint);
  if (s.end_unix_ns < s.start_unix_ns) {
    return InvalidArgument(path + ": end_unix_ns is before start_unix_ns", kSpanHint);
  }
  {
    const auto& obj = attributes;
    if (obj.size() > kMaxAttributes) {
      return InvalidArgument(path + ": more than " + std::to_string(kMaxAttributes) + " attributes",
                             kSpanHint);
    }
    for (const auto& kv : obj) {
      const json::value& a = kv.value();
      if (a.is_string()) {
        s.SetValue(kv.key(), std::string(a.get_string()));
      } else if (a.is_int64()) {
        s.SetValue(kv.key(), a.get_int64());
      } else if (a.is_double()) {
        s.SetValue(kv.key(), a.get_double());
      } else if (a.is_bool()) {
        s.SetValue(kv.key(), a.get_bool());
      } else {
        return InvalidArgument(path + ".attributes." + std::string(kv.key()) +
                                   ": expected a string, integer, number or boolean",
                               kSpanHint);
      }
    }
  }
  return s;
}

std::string SpanBatchJson(const std::vector<Span>& spans) {
  json::array list;
  for (const auto& s : spans) list.push_back(ToJson(s));
  return mesh::Serialize(json::object{{"spans", std::move(list)}});
}

Result<std::vector<Span>> SpanBatchFromJson(const json::value& v) {
  mesh::ReadOptions options;
  options.unknown = mesh::UnknownFields::kReject;
  options.hint = kSpanHint;
  mesh::FieldReader r(v, "", options);
  std::vector<Span> spans;
  r.List(
      "spans", spans, [](const json::value& e, const std::string& p) { return SpanFromJson(e, p); },
      true);
  if (!r.Finish().ok()) return r.status();
  if (spans.size() > kMaxSpansPerBatch) {
    return Status(Code::kTooLarge, "more than " + std::to_string(kMaxSpansPerBatch) + " spans",
                  "send spans in smaller batches");
  }
  return spans;
}

std::string OtlpTracesJson(const std::vector<Span>& spans, const std::string& version) {
  std::map<std::pair<std::string, std::string>, json::array> by_resource;
  for (const auto& s : spans) by_resource[{s.service, s.node_id}].push_back(OtlpSpan(s));
  json::array resource_spans;
  for (auto& [resource, list] : by_resource) {
    json::array attributes;
    attributes.push_back(OtlpKeyValue("service.name", resource.first));
    attributes.push_back(OtlpKeyValue("service.version", version));
    if (!resource.second.empty()) {
      attributes.push_back(OtlpKeyValue("vox.mesh.node_id", resource.second));
    }
    json::object scope{{"name", "populi"}, {"version", version}};
    json::array scope_spans;
    scope_spans.push_back(json::object{{"scope", std::move(scope)}, {"spans", std::move(list)}});
    resource_spans.push_back(
        json::object{{"resource", json::object{{"attributes", std::move(attributes)}}},
                     {"scopeSpans", std::move(scope_spans)}});
  }
  return mesh::Serialize(json::object{{"resourceSpans", std::move(resource_spans)}});
}

}  // namespace populi::obs
