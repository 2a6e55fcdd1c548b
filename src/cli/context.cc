#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "cli/verb.h"
#include "util/units.h"

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

int Context::FailUsage(std::string message, std::string hint) {
  Fail(InvalidArgument(std::move(message), std::move(hint)));
  exit_code = kExitUsage;
  return exit_code;
}

void Context::Warn(const std::string& message, const std::string& hint) {
  if (!warned.insert(message).second) return;
  if (global.json) {
    boost::json::object w;
    w["message"] = message;
    w["hint"] = hint;
    boost::json::object o;
    o["warning"] = std::move(w);
    *err << boost::json::serialize(o) << "\n";
    return;
  }
  *err << "warning: " << message << "\n";
  if (!hint.empty()) *err << "hint: " << hint << "\n";
}

bool Context::UseColor() const {
  if (global.no_color || global.json) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return out == &std::cout && isatty(STDOUT_FILENO) == 1;
}

Result<config::Config> LoadConfig(Context& ctx, const std::map<std::string, std::string>& flags) {
  config::LoadOptions opts;
  opts.flags = flags;
  POPULI_ASSIGN_OR_RETURN(config::Config cfg, config::Load(opts));
  for (const config::Diagnostic& d : cfg.diagnostics()) ctx.Warn(d.ToString(), d.hint);
  return cfg;
}

std::string ControlUrlFile(const config::Config& cfg) {
  return cfg.data_dir() + "/control-url";
}

Result<std::string> ResolveControlUrl(const Context& ctx, const config::Config& cfg) {
  if (!ctx.global.control_url.empty()) return ctx.global.control_url;
  std::string from_config = cfg.GetString("mesh.control.url");
  if (!from_config.empty()) return from_config;
  std::ifstream in(ControlUrlFile(cfg));
  std::string url;
  if (in && std::getline(in, url)) {
    while (!url.empty() && (url.back() == '\r' || url.back() == ' ')) url.pop_back();
    if (!url.empty()) return url;
  }
  return Unavailable(
      "no control plane URL: --control-url is not given, [mesh.control] url is "
      "unset and no local serve wrote " +
          ControlUrlFile(cfg),
      "start `vox populi serve`, or pass --control-url / set VOX_MESH_CONTROL_URL");
}

std::string RelativeTime(int64_t then_unix_ms, int64_t now_unix_ms) {
  const int64_t delta_ms = now_unix_ms - then_unix_ms;
  if (delta_ms > -kMsPerSecond && delta_ms < kMsPerSecond) return "just now";
  std::string amount = FormatDuration(delta_ms);
  if (delta_ms >= 0) return amount + " ago";
  amount.erase(0, 1);  // the '-'
  return "in " + amount;
}

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

namespace {

// The one table layout: columns measured in screen columns, then cells painted (so escape codes
// never skew the alignment). `paint` may be null (plain text).
std::string LayOutTable(
    const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
    const std::function<std::string(size_t row, size_t column, const std::string& cell)>& paint) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  constexpr size_t kHeaderRow = static_cast<size_t>(-1);
  auto emit = [&](const std::vector<std::string>& row, size_t r) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : std::string();
      line += paint && r != kHeaderRow ? paint(r, i, cell) : cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - DisplayWidth(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  };
  std::string out = emit(header, kHeaderRow);
  if (paint) out = paint(kHeaderRow, 0, out);
  out += "\n";
  for (size_t r = 0; r < rows.size(); ++r) out += emit(rows[r], r) + "\n";
  return out;
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  return LayOutTable(header, rows, nullptr);
}

std::string RenderColoredTable(const Context& ctx, const std::vector<std::string>& header,
                               const std::vector<std::vector<std::string>>& rows,
                               size_t color_column, const std::vector<Color>& colors) {
  return LayOutTable(header, rows, [&](size_t row, size_t column, const std::string& cell) {
    if (row == static_cast<size_t>(-1)) return Paint(ctx, Color::kBold, cell);  // the header line
    return column == color_column && row < colors.size() ? Paint(ctx, colors[row], cell) : cell;
  });
}

std::string Paint(const Context& ctx, Color color, std::string_view text) {
  if (!ctx.UseColor()) return std::string(text);
  const char* code = "";
  switch (color) {
    case Color::kRed:
      code = "31";
      break;
    case Color::kGreen:
      code = "32";
      break;
    case Color::kYellow:
      code = "33";
      break;
    case Color::kBold:
      code = "1";
      break;
    case Color::kDim:
      code = "2";
      break;
  }
  return std::string("\033[") + code + "m" + std::string(text) + "\033[0m";
}

void AddClientOptions(CLI::App& verb, Context& ctx) {
  verb.add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  verb.add_option("--control-url", ctx.global.control_url,
                  "Control plane URL (default: [mesh.control] url, else the local serve's URL)");
}

namespace {

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// The pager command for WritePaged, or "" for none.
std::string PagerCommand() {
  const char* pager = std::getenv("PAGER");
  if (pager != nullptr) {
    std::string command = pager;
    return command == "cat" ? std::string() : command;
  }
  return OnPath("less") ? "less -FRX" : std::string();
}

}  // namespace

void WritePaged(Context& ctx, const std::string& text) {
  const bool terminal = ctx.out == &std::cout && isatty(STDOUT_FILENO) == 1;
  const std::string pager =
      terminal && !ctx.global.no_pager && !ctx.global.json ? PagerCommand() : std::string();
  if (!pager.empty()) {
    winsize size{};
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    const bool known = ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0;
    if (known && lines < size.ws_row) {
      *ctx.out << text;
      return;
    }
    std::cout.flush();
    // A pager quit early closes the pipe; the rest of the text is simply dropped.
    auto previous = std::signal(SIGPIPE, SIG_IGN);
    FILE* pipe = popen(pager.c_str(), "w");
    if (pipe != nullptr) {
      std::fwrite(text.data(), 1, text.size(), pipe);
      const int status = pclose(pipe);
      std::signal(SIGPIPE, previous);
      // 127: the shell found no such pager, so nothing was shown.
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127) *ctx.out << text;
      return;
    }
    std::signal(SIGPIPE, previous);
  }
  *ctx.out << text;
}

}  // namespace populi::cli
