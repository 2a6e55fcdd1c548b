#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "control/http/http.h"

namespace populi::http {
namespace {

Route MakeRoute(Method method, std::string pattern, std::string name) {
  Route route;
  route.method = method;
  route.pattern = std::move(pattern);
  route.name = std::move(name);
  route.handler = [](Request&) { return NoContent(); };
  return route;
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router router;
  router.Add(MakeRoute(Method::kGet, "/v1/populi/nodes", "nodes.list"));
  router.Add(MakeRoute(Method::kGet, "/v1/populi/nodes/{id}", "nodes.get"));
  router.Add(MakeRoute(Method::kPost, "/v1/populi/nodes/{id}/heartbeat", "nodes.heartbeat"));
  std::map<std::string, std::string> params;
  bool path_exists = false;
  const Route* route = router.Match(Method::kGet, "/v1/populi/nodes/n-1", &params, &path_exists);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->name, "nodes.get");
  EXPECT_EQ(params.at("id"), "n-1");
  route = router.Match(Method::kPost, "/v1/populi/nodes/n-2/heartbeat", &params, &path_exists);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(params.at("id"), "n-2");
  EXPECT_EQ(router.Match(Method::kGet, "/v1/populi/nodes", &params, &path_exists)->name,
            "nodes.list");
}

TEST(Router, UnknownPathIsNotFoundAndWrongMethodIsFlagged) {
  Router router;
  router.Add(MakeRoute(Method::kGet, "/health", "health"));
  router.Add(MakeRoute(Method::kGet, "/v1/populi/nodes/{id}", "nodes.get"));
  bool path_exists = true;
  EXPECT_EQ(router.Match(Method::kGet, "/nope", nullptr, &path_exists), nullptr);
  EXPECT_FALSE(path_exists);
  EXPECT_EQ(router.Match(Method::kPost, "/health", nullptr, &path_exists), nullptr);
  EXPECT_TRUE(path_exists);
  // An empty parameter segment does not match.
  EXPECT_EQ(router.Match(Method::kGet, "/v1/populi/nodes/", nullptr, &path_exists), nullptr);
  EXPECT_FALSE(path_exists);
  EXPECT_EQ(router.Match(Method::kGet, "/v1/populi/nodes/a/b", nullptr, &path_exists), nullptr);
}

TEST(Router, LiteralSegmentBeatsParameterWhateverTheOrder) {
  Router router;
  router.Add(MakeRoute(Method::kGet, "/v1/populi/nodes/{id}", "nodes.get"));
  router.Add(MakeRoute(Method::kGet, "/v1/populi/nodes/self", "nodes.self"));
  std::map<std::string, std::string> params;
  EXPECT_EQ(router.Match(Method::kGet, "/v1/populi/nodes/self", &params, nullptr)->name,
            "nodes.self");
  EXPECT_TRUE(params.empty());
}

TEST(Response, StatusMapping) {
  EXPECT_EQ(HttpStatusFor(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(Code::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(Code::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(Code::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(Code::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(Code::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(Code::kGone), 410);
  EXPECT_EQ(HttpStatusFor(Code::kTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(Code::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(Code::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(Code::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(Code::kStoreIo), 503);
  EXPECT_EQ(HttpStatusFor(Code::kTimeout), 504);
  EXPECT_EQ(HttpStatusFor(Code::kStoreFull), 507);
}

TEST(Response, ErrorBodyCarriesCodeMessageHintAndRequestId) {
  Response response = ErrorResponse(
      Status(Code::kNotFound, "node \"n1\" is not registered", "run vox populi join"), "req-42");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  auto body = boost::json::parse(response.body);
  const auto& error = body.at("error");
  EXPECT_EQ(error.at("code").as_string(), "not_found");
  EXPECT_EQ(error.at("message").as_string(), "node \"n1\" is not registered");
  EXPECT_EQ(error.at("hint").as_string(), "run vox populi join");
  EXPECT_EQ(error.at("request_id").as_string(), "req-42");
}

TEST(Response, ErrorFromOkStatusIsInternal) {
  Response response = ErrorResponse(Status::Ok(), "r");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(boost::json::parse(response.body).at("error").at("code").as_string(), "internal");
}

TEST(Response, HelpersAndHeaders) {
  Response json = JsonResponse("{\"ok\":true}", 201);
  EXPECT_EQ(json.status, 201);
  EXPECT_EQ(json.body, "{\"ok\":true}");
  Response empty = NoContent();
  EXPECT_EQ(empty.status, 204);
  EXPECT_TRUE(empty.body.empty());
  json.SetHeader("Retry-After", "1").SetHeader("retry-after", "2");
  ASSERT_EQ(json.headers.size(), 1u);
  EXPECT_EQ(json.headers[0].first, "retry-after");
  EXPECT_EQ(json.headers[0].second, "2");
}

TEST(Request, HeaderLookupIsCaseInsensitive) {
  Request request;
  request.headers = {{"x-vox-node-id", "n1"}, {"authorization", "Bearer t"}};
  EXPECT_EQ(request.Header("X-Vox-Node-Id"), "n1");
  EXPECT_EQ(request.Header("missing"), "");
}

TEST(Roles, RoundTripAndRejectUnknown) {
  for (Role r : {Role::kReadOnly, Role::kSubmitter, Role::kWorker, Role::kMesh, Role::kAdmin}) {
    auto parsed = ParseRole(ToString(r));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, r);
  }
  auto bad = ParseRole("root");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().hint().find("admin"), std::string::npos);
}

}  // namespace
}  // namespace populi::http
