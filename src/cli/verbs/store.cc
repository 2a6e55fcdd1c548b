#include "cli/verb.h"

namespace populi::cli {

// Stub: replaced by the store verbs.
void AddStoreVerbs(CLI::App& /*root*/, CLI::App& /*populi*/, Context& /*ctx*/) {}

}  // namespace populi::cli
