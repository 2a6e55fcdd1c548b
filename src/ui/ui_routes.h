// The web dashboard's routes: GET /ui (the page) and GET /ui/{file} (its scripts and styles),
// served from files compiled into the binary. They need no credential: the files hold no mesh
// data; the page asks the JSON API for it with the token the user signs in with
// (docs/dashboard.md).
#pragma once

#include <string_view>
#include <vector>

#include "control/http/http.h"

namespace populi::ui {

struct UiFile {
  std::string_view name;          // "index.html", "app.js"
  std::string_view content_type;  // with charset for text
  std::string_view etag;          // quoted strong validator: "\"<16 hex of its SHA-256>\""
  std::string_view body;
};

// Every compiled-in file, in name order.
const std::vector<UiFile>& UiFiles();
// The file called `name`, or nullptr.
const UiFile* FindUiFile(std::string_view name);

void AddUiRoutes(http::Router& router);

}  // namespace populi::ui
