// A real control plane (SQLite store, hand-set clock) behind the real HTTP server on 127.0.0.1:0
// with role tokens, for tests of client::ControlPlaneApi; and a bare server whose routes answer
// with whatever a test gives them, for replies a real control plane never sends.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/control_plane_api.h"
#include "control/fixture.h"
#include "control/http/auth.h"
#include "control/http/server.h"

namespace populi::client::testing {

inline constexpr const char* kAdminToken = "admin-token-0123456789abcd";
inline constexpr const char* kWorkerToken = "worker-token-0123456789abc";
inline constexpr const char* kReadOnlyToken = "read-only-token-0123456789";
inline constexpr const char* kMeshToken = "mesh-token-handed-out-0123456789";
inline constexpr const char* kBootstrapToken = "bootstrap-once-0123456789";

class ApiServerTest : public control::testing::ApiFixture {
 protected:
  control::ControlOptions Options() override {
    control::ControlOptions o = ApiFixture::Options();
    o.bootstrap_token = kBootstrapToken;
    o.mesh_token = kMeshToken;
    o.long_poll_max_ms = 5'000;
    return o;
  }
  void SetUp() override {
    ApiFixture::SetUp();
    http::AuthConfig config;
    config.tokens = {{"admin", http::Role::kAdmin, kAdminToken},
                     {"worker", http::Role::kWorker, kWorkerToken},
                     {"read_only", http::Role::kReadOnly, kReadOnlyToken}};
    auto auth = http::Authenticator::Create(config);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    auth_ = std::move(*auth);
    http::ServerOptions options;
    options.bind = "127.0.0.1:0";
    options.handler_threads = 4;
    options.auth_failure_rate_per_sec = 0;  // a test's refused token must not lock the rest out
    auto server = http::Server::Start(options, router_, *auth_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    plane_->SetNotifier(&server_->notifier());
  }
  void TearDown() override {
    if (plane_) plane_->SetNotifier(nullptr);
    server_.reset();
    ApiFixture::TearDown();
  }

  ControlPlaneApi Api(const std::string& token = kAdminToken) const {
    return ControlPlaneApi(server_->url(), token);
  }

  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::Server> server_;
};

// GET routes on an open server answering with fixed bodies: path pattern → handler.
class CannedServer {
 public:
  using Handler = std::function<http::Response(http::Request&)>;
  explicit CannedServer(const std::map<std::string, Handler>& routes) {
    for (const auto& [pattern, handler] : routes) {
      http::Route route;
      route.method = http::Method::kGet;
      route.pattern = pattern;
      route.name = "canned" + pattern;
      route.handler = handler;
      router_.Add(std::move(route));
    }
    auth_ = http::Authenticator::Open();
    http::ServerOptions options;
    options.bind = "127.0.0.1:0";
    options.handler_threads = 2;
    auto server = http::Server::Start(options, router_, *auth_);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(*server);
  }
  // A handler that always answers `body` with `status`.
  static Handler Answer(std::string body, int status = 200) {
    return [body = std::move(body), status](http::Request&) {
      return http::JsonResponse(body, status);
    };
  }
  std::string url() const { return server_ ? server_->url() : std::string("http://127.0.0.1:1"); }

 private:
  http::Router router_;
  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace populi::client::testing
