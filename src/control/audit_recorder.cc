#include "control/audit_recorder.h"

#include <boost/json.hpp>
#include <utility>

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr char kManySources[] = "many";

std::string KindOf(int status) {
  return status == 401 ? "auth.failed" : "auth.denied";
}

// "jwt:<jti>" → "jwt": every JWT has its own id, so one entry per JWT would be one per request.
std::string UseLabel(const std::string& label) {
  return label.rfind("jwt:", 0) == 0 ? "jwt" : label;
}

}  // namespace

std::string AuditActor(const http::Principal& principal) {
  if (principal.anonymous || principal.token_label.empty()) return "anonymous";
  return principal.token_label;
}

AuditRecorder::AuditRecorder(store::MeshStore& store, const Clock& clock,
                             AuditRecorderOptions options)
    : store_(store), clock_(clock), options_(options) {}

mesh::AuditRecord AuditRecorder::WindowSummary(const std::string& key, const Window& w,
                                               int64_t now) const {
  const size_t space = key.find(' ');
  const std::string kind = key.substr(0, space);
  const std::string ip = key.substr(space + 1);
  return mesh::AuditRecord{now, kind, ip, w.route,
                           json::serialize(json::object{{"count", w.counted},
                                                        {"window_start_ms", w.start_ms},
                                                        {"window_ms", options_.window_ms},
                                                        {"last_token_label", w.token_label}})};
}

void AuditRecorder::AuthRefused(const std::string& remote_ip, int status, const std::string& route,
                                const std::string& token_label) {
  const int64_t now = clock_.NowMs();
  const std::string kind = KindOf(status);
  std::vector<mesh::AuditRecord> records;
  {
    std::lock_guard lock(mu_);
    std::string key = kind + " " + remote_ip;
    if (refusals_.find(key) == refusals_.end() && refusals_.size() >= options_.max_sources) {
      key = kind + " " + kManySources;
    }
    auto [it, fresh] = refusals_.try_emplace(key);
    Window& w = it->second;
    if (!fresh && now - w.start_ms < options_.window_ms) {
      ++w.counted;
      w.route = route;
      w.token_label = token_label;
      return;
    }
    if (!fresh && w.counted > 0) records.push_back(WindowSummary(key, w, now));
    w = Window{now, 0, route, token_label};
    records.push_back(
        mesh::AuditRecord{now, kind, key.substr(key.find(' ') + 1), route,
                          json::serialize(json::object{{"status", status},
                                                       {"count", 1},
                                                       {"token_label", token_label},
                                                       {"coalesced_for_ms", options_.window_ms}})});
  }
  Submit(std::move(records));
}

void AuditRecorder::TokenUsed(const std::string& token_label, http::Role role) {
  const int64_t now = clock_.NowMs();
  const std::string label = UseLabel(token_label);
  const std::string role_name(http::ToString(role));
  std::vector<mesh::AuditRecord> records;
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = uses_.try_emplace(label + " " + role_name);
    Use& use = it->second;
    ++use.counted;
    if (!fresh && now - use.last_ms < options_.use_period_ms) return;
    records.push_back(
        mesh::AuditRecord{now, "token.used", label, role_name,
                          json::serialize(json::object{{"role", role_name},
                                                       {"count", use.counted},
                                                       {"first_use", fresh},
                                                       {"since_ms", fresh ? now : use.last_ms}})});
    use.last_ms = now;
    use.counted = 0;
  }
  Submit(std::move(records));
}

void AuditRecorder::Lockout(const std::string& remote_ip) {
  Submit({mesh::AuditRecord{
      clock_.NowMs(), "auth.lockout", remote_ip, "",
      json::serialize(json::object{{"why", "too many failed authentications"}})}});
}

void AuditRecorder::Flush(bool all) {
  const int64_t now = clock_.NowMs();
  std::vector<mesh::AuditRecord> records;
  {
    std::lock_guard lock(mu_);
    for (auto it = refusals_.begin(); it != refusals_.end();) {
      const bool ended = now - it->second.start_ms >= options_.window_ms;
      if ((ended || all) && it->second.counted > 0) {
        records.push_back(WindowSummary(it->first, it->second, now));
        it->second.counted = 0;
      }
      it = ended ? refusals_.erase(it) : std::next(it);
    }
    for (auto& [key, use] : uses_) {
      if (use.counted == 0 || (!all && now - use.last_ms < options_.use_period_ms)) continue;
      const size_t space = key.rfind(' ');
      const std::string role = key.substr(space + 1);
      records.push_back(
          mesh::AuditRecord{now, "token.used", key.substr(0, space), role,
                            json::serialize(json::object{{"role", role},
                                                         {"count", use.counted},
                                                         {"first_use", false},
                                                         {"since_ms", use.last_ms}})});
      use.last_ms = now;
      use.counted = 0;
    }
  }
  Submit(std::move(records));
}

void AuditRecorder::Submit(std::vector<mesh::AuditRecord> records) {
  if (records.empty()) return;
  store_.SubmitWrite(
      [records = std::move(records)](store::WriteTxn& txn) -> Status {
        for (const mesh::AuditRecord& r : records)
          POPULI_RETURN_IF_ERROR(txn.AppendAudit(r).status());
        return Status::Ok();
      },
      [](Status) {});  // best effort: a failed write (store full) loses these counts only
}

}  // namespace populi::control
