#include "cli/verb.h"

namespace populi::cli {

// Stub: replaced by the probe verbs.
void AddProbeVerbs(CLI::App& /*root*/, CLI::App& /*populi*/, Context& /*ctx*/) {}

}  // namespace populi::cli
