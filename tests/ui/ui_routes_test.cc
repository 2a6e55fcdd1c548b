// The dashboard's routes: every compiled-in file is served with its content type, an ETag that
// a revalidation answers 304 to, no credential needed; unknown files are a 404 with a hint; the
// page loads nothing from anywhere but this server.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "ui/ui_routes.h"

namespace populi::ui {
namespace {

struct Served {
  int status = 0;
  std::string content_type, body;
  std::map<std::string, std::string> headers;
};

Served Get(const http::Router& router, const std::string& path,
           const std::string& if_none_match = "") {
  std::map<std::string, std::string> params;
  bool exists = false;
  const http::Route* route = router.Match(http::Method::kGet, path, &params, &exists);
  EXPECT_NE(route, nullptr) << path;
  if (route == nullptr) return {};
  EXPECT_TRUE(route->roles.empty()) << path << " must need no credential";
  http::Request req;
  req.path = path;
  req.params = params;
  req.request_id = "r-1";
  if (!if_none_match.empty()) req.headers.emplace_back("if-none-match", if_none_match);
  http::Response r = route->handler(req);
  Served out{r.status, r.content_type, r.body, {}};
  for (auto& [k, v] : r.headers) {
    std::string lower = k;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lower] = v;
  }
  return out;
}

class UiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override { AddUiRoutes(router_); }
  http::Router router_;
};

TEST_F(UiRoutesTest, ThePageAndEveryFileAreServedWithTheirTypeAndValidator) {
  Served page = Get(router_, "/ui");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<main"), std::string::npos);
  EXPECT_EQ(page.headers["cache-control"], "no-cache");
  EXPECT_NE(page.headers["content-security-policy"].find("connect-src 'self'"), std::string::npos);
  const std::map<std::string, std::string> types = {{".html", "text/html; charset=utf-8"},
                                                    {".js", "text/javascript; charset=utf-8"},
                                                    {".css", "text/css; charset=utf-8"}};
  ASSERT_GE(UiFiles().size(), 3u);
  std::set<std::string> etags;
  for (const UiFile& f : UiFiles()) {
    Served s = Get(router_, "/ui/" + std::string(f.name));
    EXPECT_EQ(s.status, 200) << f.name;
    EXPECT_EQ(s.body, f.body) << f.name;
    const std::string ext = std::string(f.name.substr(f.name.rfind('.')));
    EXPECT_EQ(s.content_type, types.at(ext)) << f.name;
    EXPECT_EQ(s.headers["x-content-type-options"], "nosniff");
    EXPECT_TRUE(std::regex_match(s.headers["etag"], std::regex("\"[0-9a-f]{16}\""))) << f.name;
    etags.insert(s.headers["etag"]);
  }
  EXPECT_EQ(etags.size(), UiFiles().size()) << "two files share an ETag";
}

TEST_F(UiRoutesTest, TheCompiledInFilesAreTheFilesUnderUi) {
  for (const UiFile& f : UiFiles()) {
    std::ifstream in(std::string(POPULI_SOURCE_DIR_AT_BUILD) + "/ui/" + std::string(f.name),
                     std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    EXPECT_EQ(s.str(), f.body) << f.name << " differs from ui/" << f.name;
  }
}

TEST_F(UiRoutesTest, ARevalidationWithTheETagIsANotModifiedWithoutBody) {
  const Served first = Get(router_, "/ui/app.js");
  const std::string etag = first.headers.at("etag");
  Served again = Get(router_, "/ui/app.js", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.headers["etag"], etag);
  EXPECT_EQ(Get(router_, "/ui/app.js", "\"other\", W/" + etag).status, 304);  // list, weak
  EXPECT_EQ(Get(router_, "/ui/app.js", "*").status, 304);
  EXPECT_EQ(Get(router_, "/ui/app.js", "\"0000000000000000\"").status, 200);
  EXPECT_EQ(Get(router_, "/ui/app.css", etag).status, 200);  // another file's tag
}

TEST_F(UiRoutesTest, AnUnknownFileIsANotFoundWithAHint) {
  const Served s = Get(router_, "/ui/secret.txt");
  EXPECT_EQ(s.status, 404);
  EXPECT_NE(s.body.find("\"code\":\"not_found\""), std::string::npos) << s.body;
  EXPECT_NE(s.body.find("\"hint\":\"open /ui"), std::string::npos) << s.body;
  EXPECT_NE(s.body.find("\"request_id\":\"r-1\""), std::string::npos) << s.body;
}

// Air-gapped LANs: no file names another host, and every file the page or a script loads is one
// the server holds.
TEST_F(UiRoutesTest, ThePageLoadsOnlyFilesThisServerHolds) {
  const std::regex external(R"((src|href)\s*=\s*["'](https?:)?//)");
  const std::regex local(R"((?:src|href)="/ui/([^"]+)\")");
  const std::regex import_re(R"(from '\./([^']+)')");
  for (const UiFile& f : UiFiles()) {
    const std::string body(f.body);
    EXPECT_FALSE(std::regex_search(body, external)) << f.name << " loads from another host";
    EXPECT_EQ(body.find("://"), std::string::npos) << f.name << " names a URL";
    for (std::sregex_iterator it(body.begin(), body.end(), local), end; it != end; ++it)
      EXPECT_NE(FindUiFile((*it)[1].str()), nullptr) << f.name << " loads " << (*it)[1];
    for (std::sregex_iterator it(body.begin(), body.end(), import_re), end; it != end; ++it)
      EXPECT_NE(FindUiFile((*it)[1].str()), nullptr) << f.name << " imports " << (*it)[1];
  }
}

}  // namespace
}  // namespace populi::ui
