#include "cli/verb.h"

namespace populi::cli {

// Stub: replaced by the serve verbs.
void AddServeVerbs(CLI::App& /*root*/, CLI::App& /*populi*/, Context& /*ctx*/) {}

}  // namespace populi::cli
