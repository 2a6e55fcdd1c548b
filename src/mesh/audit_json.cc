#include "mesh/audit_json.h"

#include <boost/json.hpp>

#include "mesh/json_internal.h"

namespace populi::mesh {
namespace json = boost::json;
using json_internal::Element;
using json_internal::Reader;
using json_internal::RequiredList;

json::object ToJson(const AuditEntry& e) {
  return json::object{{"seq", e.seq},
                      {"ts_ms", e.ts_ms},
                      {"kind", e.kind},
                      {"actor", e.actor},
                      {"subject", e.subject},
                      {"data_json", e.data_json},
                      {"prev_hash", e.prev_hash},
                      {"hash", e.hash}};
}

json::object ToJson(const AuditHead& h) {
  return json::object{{"seq", h.seq}, {"hash", h.hash}};
}

json::object ToJson(const AuditPage& p) {
  json::array entries;
  for (const AuditEntry& e : p.entries) entries.push_back(ToJson(e));
  json::object o{{"entries", std::move(entries)},
                 {"next_after", p.entries.empty() ? int64_t{0} : p.entries.back().seq}};
  if (p.head) o["head"] = ToJson(*p.head);
  return o;
}

Result<AuditEntry> AuditEntryFromJson(const json::value& v) {
  Reader r(v, "");
  AuditEntry e;
  r.Int("seq", e.seq, 1, std::numeric_limits<int64_t>::max(), true);
  r.Int("ts_ms", e.ts_ms, std::numeric_limits<int64_t>::min());
  r.Str("kind", e.kind, true);
  r.Str("actor", e.actor);
  r.Str("subject", e.subject);
  r.Str("data_json", e.data_json);
  r.Str("prev_hash", e.prev_hash, true);
  r.Str("hash", e.hash, true);
  if (!r.ok()) return r.status();
  return e;
}

Result<AuditHead> AuditHeadFromJson(const json::value& v) {
  Reader r(v, "");
  AuditHead h;
  r.Int("seq", h.seq, 0, std::numeric_limits<int64_t>::max(), true);
  r.Str("hash", h.hash, true);
  if (!r.ok()) return r.status();
  return h;
}

Result<AuditPage> AuditPageFromJson(const json::value& v) {
  Reader r(v, "");
  AuditPage p;
  RequiredList(r, "entries", p.entries, Element(AuditEntryFromJson));
  if (r.ok() && r.Raw("head") != nullptr && !r.Raw("head")->is_null()) {
    AuditHead head;
    r.Field("head", head, [](const json::value& h) { return AuditHeadFromJson(h); });
    if (r.ok()) p.head = std::move(head);
  }
  if (!r.ok()) return r.status();
  return p;
}

json::object ToJson(const AuditVerdict& v) {
  json::object o{{"ok", v.ok}, {"entries", v.entries}, {"detail", v.detail}};
  if (!v.ok) {
    o["damage"] = ToString(v.damage);
    o["position"] = v.position;
  }
  return o;
}

}  // namespace populi::mesh
