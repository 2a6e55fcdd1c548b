#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/verb.h"

namespace populi::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kUnavailable:
    case Code::kTimeout:
      return kExitUnreachable;
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return kExitUnauthorized;
    default:
      return kExitFailure;
  }
}

int Context::Fail(const Status& status) {
  exit_code = ExitCodeFor(status);
  if (global.json) {
    boost::json::object e;
    e["code"] = CodeName(status.code());
    e["message"] = status.message();
    e["hint"] = status.hint();
    boost::json::object o;
    o["error"] = std::move(e);
    *err << boost::json::serialize(o) << "\n";
  } else {
    *err << "error: " << status.message() << "\n";
    if (!status.hint().empty()) *err << "hint: " << status.hint() << "\n";
  }
  return exit_code;
}

bool Context::UseColor() const {
  if (global.no_color || global.json) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return out == &std::cout && isatty(STDOUT_FILENO) == 1;
}

void AddClientOptions(CLI::App& verb, Context& ctx) {
  verb.add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  verb.add_option("--control-url", ctx.global.control_url,
                  "Control plane URL (default: [mesh.control] url, else the local serve's URL)");
}

}  // namespace populi::cli
