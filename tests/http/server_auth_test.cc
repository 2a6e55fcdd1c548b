// The route × role matrix over real HTTP, JWTs, the persisted replay guard, and token hygiene
// in logs.
#include <boost/json/parse.hpp>

#include "client/http_client.h"
#include "http/test_server.h"

namespace populi::http::testing {
namespace {

using client::HttpClient;

struct Credential {
  const char* label;
  Role role;
  const char* secret;
};
constexpr Credential kCredentials[] = {
    {"admin", Role::kAdmin, "admin-token-0123456789abcdef"},
    {"mesh", Role::kMesh, "mesh-token-0123456789abcdef"},
    {"worker", Role::kWorker, "worker-token-0123456789abcdef"},
    {"submitter", Role::kSubmitter, "submitter-token-0123456789abcdef"},
    {"reader", Role::kReadOnly, "reader-token-0123456789abcdef"},
};
constexpr char kJwtSecret[] = "jwt-signing-secret-0123456789abcdef0123";

class ServerAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }
  void StartServer() {
    AuthConfig config;
    for (const Credential& c : kCredentials) config.tokens.push_back({c.label, c.role, c.secret});
    config.jwt_secret = kJwtSecret;
    config.jti_store = &jti_store_;
    auto auth = Authenticator::Create(config);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    auth_ = std::move(auth).value();
    auto server = Server::Start(TestOptions(), TestRouter(state_), *auth_, log_.logger());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  int StatusFor(const std::string& token, const char* method, const char* path) {
    HttpClient client(server_->url(), token);
    auto r = client.SendRaw(method, path, std::string_view(method) == "POST" ? "{}" : "");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->status : 0;
  }
  std::string Jwt(Role role, int64_t exp_offset_s, const std::string& jti) {
    return MintJwt(kJwtSecret, role, SystemClock::Instance().NowMs() / 1000 + exp_offset_s, jti);
  }

  CapturedLog log_;
  RouteState state_;
  InMemoryJtiStore jti_store_{SystemClock::Instance()};
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerAuthTest, RouteRoleMatrix) {
  struct Case {
    const char* method;
    const char* path;
    std::vector<const char*> allowed;  // labels that get 2xx
  };
  const std::vector<Case> cases = {
      {"GET", "/health", {"admin", "mesh", "worker", "submitter", "reader"}},
      {"GET", "/v1/populi/items/1", {"admin", "mesh", "worker", "submitter", "reader"}},
      {"POST", "/v1/populi/items", {"admin", "mesh", "submitter"}},
      {"POST", "/v1/populi/nodes/n1/work", {"admin", "mesh", "worker"}},
      {"POST", "/v1/populi/admin/reset", {"admin"}},
  };
  for (const Case& c : cases) {
    for (const Credential& cred : kCredentials) {
      const bool allowed = std::find_if(c.allowed.begin(), c.allowed.end(), [&](const char* label) {
                             return std::string_view(label) == cred.label;
                           }) != c.allowed.end();
      const int status = StatusFor(cred.secret, c.method, c.path);
      if (allowed) {
        EXPECT_LT(status, 300) << cred.label << " " << c.method << " " << c.path;
      } else {
        EXPECT_EQ(status, 403) << cred.label << " " << c.method << " " << c.path;
      }
    }
    // No credential: only open routes.
    const int anonymous = StatusFor("", c.method, c.path);
    EXPECT_EQ(anonymous, std::string_view(c.path) == "/health" ? 200 : 401) << c.path;
  }
}

TEST_F(ServerAuthTest, UnauthorizedAndForbiddenBodies) {
  HttpClient nobody(server_->url());
  auto r401 = nobody.SendRaw("GET", "/v1/populi/items/1");
  ASSERT_TRUE(r401.ok());
  EXPECT_EQ(r401->status, 401);
  auto e401 = boost::json::parse(r401->body).at("error");
  EXPECT_EQ(e401.at("code").as_string(), "unauthenticated");
  EXPECT_EQ(e401.at("hint").as_string(), "set VOX_MESH_TOKEN or mesh.token in ~/.vox/config.toml");

  HttpClient wrong(server_->url(), "wrong-token-0123456789abcdef");
  EXPECT_EQ(wrong.SendRaw("GET", "/health")->status, 401);  // a bad credential is never ignored

  HttpClient reader(server_->url(), "reader-token-0123456789abcdef");
  auto r403 = reader.Send("POST", "/v1/populi/admin/reset", "{}");
  ASSERT_FALSE(r403.ok());
  EXPECT_EQ(r403.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r403.status().message().find("admin"), std::string::npos) << r403.status().message();
}

TEST_F(ServerAuthTest, JwtValidExpiredReplayedAndWrongSignature) {
  const std::string valid = Jwt(Role::kWorker, 60, "jti-valid");
  EXPECT_EQ(StatusFor(valid, "POST", "/v1/populi/nodes/n1/work"), 204);
  EXPECT_EQ(StatusFor(valid, "POST", "/v1/populi/nodes/n1/work"), 401);  // replayed
  EXPECT_EQ(StatusFor(Jwt(Role::kWorker, -120, "jti-old"), "POST", "/v1/populi/nodes/n1/work"),
            401);
  EXPECT_EQ(StatusFor(Jwt(Role::kReadOnly, 60, "jti-reader"), "POST", "/v1/populi/nodes/n1/work"),
            403);
  const std::string forged = MintJwt("some-other-secret-0123456789abcdef0123", Role::kAdmin,
                                     SystemClock::Instance().NowMs() / 1000 + 60, "jti-forged");
  EXPECT_EQ(StatusFor(forged, "POST", "/v1/populi/admin/reset"), 401);
  std::string text = log_.Text();
  EXPECT_NE(text.find("principal=jwt:jti-valid"), std::string::npos) << text;
}

TEST_F(ServerAuthTest, ReplayGuardSurvivesServerRestartThroughJtiStore) {
  const std::string token = Jwt(Role::kSubmitter, 60, "jti-restart");
  EXPECT_EQ(StatusFor(token, "POST", "/v1/populi/items"), 201);
  server_.reset();
  auth_.reset();
  StartServer();  // same JtiStore, as the control plane's kv would be after a restart
  EXPECT_EQ(StatusFor(token, "POST", "/v1/populi/items"), 401);
  EXPECT_EQ(StatusFor(Jwt(Role::kSubmitter, 60, "jti-fresh"), "POST", "/v1/populi/items"), 201);
}

TEST_F(ServerAuthTest, NoTokenEverAppearsInTheLog) {
  std::vector<std::string> used;
  for (const Credential& c : kCredentials) used.push_back(c.secret);
  used.push_back(Jwt(Role::kWorker, 60, "jti-log-1"));
  used.push_back(Jwt(Role::kWorker, -500, "jti-log-2"));
  used.push_back("wrong-token-0123456789abcdef");
  for (const std::string& token : used) {
    for (const char* path :
         {"/health", "/v1/populi/items/1", "/v1/populi/admin/reset", "/v1/populi/nope"}) {
      StatusFor(token, "GET", path);
      StatusFor(token, "POST", path);
    }
  }
  const std::string text = log_.Text();
  ASSERT_FALSE(text.empty());
  for (const std::string& token : used) {
    EXPECT_EQ(text.find(token), std::string::npos) << "token leaked into the log";
    // Nor the JWT's signature part on its own.
    EXPECT_EQ(text.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  }
}

}  // namespace
}  // namespace populi::http::testing
