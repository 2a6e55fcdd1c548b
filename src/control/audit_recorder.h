// Records the HTTP layer's security events in the audit log (docs/audit.md) without blocking an
// I/O thread and without one store write per request.
//
//  * Refused requests (401, 403) are coalesced per kind and source address in windows of
//    `window_ms`: the first refusal of a window is written at once, the rest are counted and
//    written as one entry (with the count) when the window ends. Past `max_sources` tracked
//    addresses, new ones share one "many" bucket, so a flood from many addresses stays bounded.
//  * Token use is recorded per token label and role (JWTs as "jwt", not per jti): the first use,
//    then at most once per `use_period_ms` with the number of requests since the last entry.
//
// Writes are submitted (MeshStore::SubmitWrite), never awaited. Flush() writes what the ended
// windows counted; the control plane's sweeper calls it on each pass, and Stop() with all=true.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "control/http/http.h"
#include "mesh/audit.h"
#include "store/mesh_store.h"
#include "util/clock.h"

namespace populi::control {

struct AuditRecorderOptions {
  int64_t window_ms = 60'000;
  int64_t use_period_ms = 3'600'000;
  size_t max_sources = 4096;
};

class AuditRecorder {
 public:
  AuditRecorder(store::MeshStore& store, const Clock& clock, AuditRecorderOptions options = {});

  // A 401 (kind auth.failed) or 403 (auth.denied) answered to `remote_ip`.
  void AuthRefused(const std::string& remote_ip, int status, const std::string& route,
                   const std::string& token_label);
  // A request authenticated with a credential.
  void TokenUsed(const std::string& token_label, http::Role role);
  // A source address locked out after too many failed authentications.
  void Lockout(const std::string& remote_ip);
  // Writes the counts of ended windows (all windows when `all`) and forgets ended windows.
  void Flush(bool all);

 private:
  struct Window {
    int64_t start_ms = 0;
    int64_t counted = 0;  // refusals since the last entry
    std::string route;    // the latest counted refusal's
    std::string token_label;
  };
  struct Use {
    int64_t last_ms = 0;
    int64_t counted = 0;  // requests since the last entry
  };

  void Submit(std::vector<mesh::AuditRecord> records);
  mesh::AuditRecord WindowSummary(const std::string& key, const Window& w, int64_t now) const;

  store::MeshStore& store_;
  const Clock& clock_;
  AuditRecorderOptions options_;
  std::mutex mu_;
  std::map<std::string, Window> refusals_;  // "<kind> <remote_ip>"
  std::map<std::string, Use> uses_;         // "<label> <role>"
};

// The actor an audit entry names for a request: the token label, or "anonymous".
std::string AuditActor(const http::Principal& principal);

}  // namespace populi::control
