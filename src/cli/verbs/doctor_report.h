// The report `vox doctor` builds (doctor.cc) and the checks it runs from other files
// (doctor_database.cc): one ok / warn / fail line per check, with a message and a hint.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace populi::cli::doctor {

enum class Level { kOk, kWarn, kFail };

struct CheckResult {
  std::string section;
  std::string name;
  Level level = Level::kOk;
  std::string message;
  std::string hint;
  boost::json::object extra;  // section-specific fields for --json
};

class Report {
 public:
  void Add(std::string section, std::string name, Level level, std::string message,
           std::string hint = {}, boost::json::object extra = {}) {
    checks_.push_back({std::move(section), std::move(name), level, std::move(message),
                       std::move(hint), std::move(extra)});
  }
  const std::vector<CheckResult>& checks() const { return checks_; }
  bool ok() const {
    for (const auto& c : checks_) {
      if (c.level == Level::kFail) return false;
    }
    return true;
  }

 private:
  std::vector<CheckResult> checks_;
};

// Where a configuration value came from: "user, /path:line", "env, VOX_MESH_…", "default".
inline std::string OriginText(const config::Origin& origin) {
  std::string text(config::SourceName(origin.source));
  if (!origin.file.empty()) return text + ", " + origin.file + ":" + std::to_string(origin.line);
  if (!origin.env_name.empty()) return text + ", " + origin.env_name;
  return text;
}

// The `store` section when [mesh.store] backend = "postgres" (doctor_database.cc): the server is
// reachable, its version, the store's schema version against this binary's, and a standby's
// replication lag against mesh.store.standby_lag_warn.
void CheckDatabase(const config::Config& cfg, Report& report);

}  // namespace populi::cli::doctor
