#include "ui/ui_routes.h"

#include <algorithm>
#include <string>

#include "ui/embedded.h"

namespace populi::ui {
namespace {

std::string_view ContentTypeOf(std::string_view name) {
  auto ends = [name](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

struct Table {
  std::vector<std::string> etags;  // owned here; UiFile views into them
  std::vector<UiFile> files;
};

const Table& Files() {
  static const Table table = [] {
    Table t;
    t.etags.reserve(internal::kEmbeddedFileCount);
    for (size_t i = 0; i < internal::kEmbeddedFileCount; ++i) {
      const auto& f = internal::kEmbeddedFiles[i];
      t.etags.push_back("\"" + std::string(f.sha256, 16) + "\"");
    }
    for (size_t i = 0; i < internal::kEmbeddedFileCount; ++i) {
      const auto& f = internal::kEmbeddedFiles[i];
      t.files.push_back({f.name, ContentTypeOf(f.name), t.etags[i],
                         std::string_view(reinterpret_cast<const char*>(f.data), f.size)});
    }
    std::sort(t.files.begin(), t.files.end(),
              [](const UiFile& a, const UiFile& b) { return a.name < b.name; });
    return t;
  }();
  return table;
}

// If-None-Match holds `etag` (weak comparison, as RFC 9110 asks for GET), or is "*".
bool NoneMatchHits(std::string_view header, std::string_view etag) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    pos = comma + 1;
  }
  return false;
}

// The page's scripts and styles come from this server only and may talk to it only; the page
// may not be framed. Nothing inline runs.
constexpr char kPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

http::Response Serve(const http::Request& req, std::string_view name) {
  const UiFile* file = FindUiFile(name);
  if (file == nullptr) {
    return http::ErrorResponse(
        NotFound("no dashboard file '" + std::string(name) + "'",
                 "open /ui; its files are index.html, app.js, app.css and the views' scripts"),
        req.request_id);
  }
  http::Response r;
  // Names are not content-addressed: the browser revalidates each load (a 304 costs no body),
  // so a control plane that was upgraded never runs a stale page against its new API.
  r.SetHeader("Cache-Control", "no-cache");
  r.SetHeader("ETag", std::string(file->etag));
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Referrer-Policy", "no-referrer");
  if (file->name == "index.html") r.SetHeader("Content-Security-Policy", kPolicy);
  if (NoneMatchHits(req.Header("if-none-match"), file->etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = std::string(file->content_type);
  r.body = std::string(file->body);
  return r;
}

}  // namespace

const std::vector<UiFile>& UiFiles() {
  return Files().files;
}

const UiFile* FindUiFile(std::string_view name) {
  const auto& files = Files().files;
  auto it = std::lower_bound(files.begin(), files.end(), name,
                             [](const UiFile& f, std::string_view n) { return f.name < n; });
  return it != files.end() && it->name == name ? &*it : nullptr;
}

void AddUiRoutes(http::Router& router) {
  // Open (no roles), answered on the I/O thread from memory, and not traced: a page load would
  // otherwise fill the span store with one-span traces.
  router.Add({http::Method::kGet,
              "/ui",
              {},
              0,
              "ui.page",
              [](http::Request& req) { return Serve(req, "index.html"); },
              /*runs_inline=*/true,
              /*liveness=*/false,
              /*traced=*/false});
  router.Add({http::Method::kGet,
              "/ui/{file}",
              {},
              0,
              "ui.file",
              [](http::Request& req) { return Serve(req, req.params["file"]); },
              /*runs_inline=*/true,
              /*liveness=*/false,
              /*traced=*/false});
}

}  // namespace populi::ui
