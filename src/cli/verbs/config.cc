#include "cli/verb.h"

namespace populi::cli {

// Stub: replaced by the config verbs.
void AddConfigVerbs(CLI::App& /*root*/, CLI::App& /*populi*/, Context& /*ctx*/) {}

}  // namespace populi::cli
