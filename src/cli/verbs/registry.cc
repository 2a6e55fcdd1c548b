// The list of verb groups. Add one line per group; order is help order.
#include "cli/verb.h"

namespace populi::cli {

void AddVersionVerbs(CLI::App& root, CLI::App& populi, Context& ctx);

namespace {
const VerbGroup kGroups[] = {
    {"version", AddVersionVerbs},
};
}  // namespace

const VerbGroup* VerbGroups(size_t* count) {
  *count = sizeof(kGroups) / sizeof(kGroups[0]);
  return kGroups;
}

}  // namespace populi::cli
