// The list of verb groups. Add one line per group; order is help order.
#include "cli/verb.h"

namespace populi::cli {

void AddVersionVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddConfigVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddServeVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddJoinVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddStoreVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddProbeVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddStatusVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddPeersVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddTaskVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddAdminVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddDoctorVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddInitVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddTraceVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddEventsVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddAuditVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddPairVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddSecretVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddInventoryVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddMcpVerbs(CLI::App& root, CLI::App& populi, Context& ctx);
void AddChatVerbs(CLI::App& root, CLI::App& populi, Context& ctx);

namespace {
const VerbGroup kGroups[] = {
    {"init", AddInitVerbs},     {"serve", AddServeVerbs},   {"join", AddJoinVerbs},
    {"config", AddConfigVerbs}, {"store", AddStoreVerbs},   {"probe", AddProbeVerbs},
    {"status", AddStatusVerbs}, {"peers", AddPeersVerbs},   {"inventory", AddInventoryVerbs},
    {"tasks", AddTaskVerbs},    {"admin", AddAdminVerbs},   {"events", AddEventsVerbs},
    {"trace", AddTraceVerbs},   {"pair", AddPairVerbs},     {"secret", AddSecretVerbs},
    {"audit", AddAuditVerbs},   {"doctor", AddDoctorVerbs}, {"version", AddVersionVerbs},
    {"mcp", AddMcpVerbs},       {"chat", AddChatVerbs},
};
}  // namespace

const VerbGroup* VerbGroups(size_t* count) {
  *count = sizeof(kGroups) / sizeof(kGroups[0]);
  return kGroups;
}

}  // namespace populi::cli
