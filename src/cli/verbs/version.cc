#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <ostream>

#include "cli/build_info.h"
#include "cli/verb.h"

namespace populi::cli {

void AddVersionVerbs(CLI::App& root, CLI::App& /*populi*/, Context& ctx) {
  auto* version = root.add_subcommand(
      "version", "Print the binary version, git revision and mesh wire version");
  version->footer("Example: vox version --json");
  version->add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  version->callback([&ctx] {
    const BuildInfo& b = GetBuildInfo();
    if (ctx.global.json) {
      boost::json::object o;
      o["version"] = b.version;
      o["git_revision"] = b.git_revision;
      o["wire_version"] = b.wire_version;
      *ctx.out << boost::json::serialize(o) << "\n";
    } else {
      *ctx.out << "vox " << b.version << " (" << b.git_revision << ")\n";
      *ctx.out << "mesh wire protocol " << b.wire_version << "\n";
    }
  });
}

}  // namespace populi::cli
