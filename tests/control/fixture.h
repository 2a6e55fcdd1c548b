// A control plane over a real SQLite store in a temp directory, with a manual clock; requests
// are dispatched through the router exactly as the server does after authentication.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "control/control_plane.h"
#include "control/http/http.h"
#include "store/sqlite.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::control::testing {

struct Reply {
  int status = 0;
  boost::json::value body;
  http::Response raw;
  const boost::json::object& obj() const { return body.as_object(); }
};

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("populi-api-" + RandomHex(8));
    Open();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  virtual ControlOptions Options() {
    ControlOptions o;
    o.version = "test";
    return o;
  }

  void Open() {
    store::SqliteOptions so;
    so.directory = dir_.string();
    so.durability = store::Durability::kBuffered;  // tests: speed over power-loss safety
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    plane_ = std::make_unique<ControlPlane>(*store_, Options(), clock_);
    router_ = http::Router();
    plane_->RegisterRoutes(router_);
  }
  void Close() {
    plane_.reset();
    if (store_) (void)store_->Close();
    store_.reset();
  }
  void Restart() {
    Close();
    Open();
  }

  // Fills `req` as a POST of `body` to `path` and returns its route (nullptr, with a failure,
  // when none): for tests that run the handler themselves and look at what it hands back
  // before the server would act on it.
  const http::Route* RouteFor(http::Request& req, const std::string& path, std::string body) {
    req.method = http::Method::kPost;
    req.path = path;
    req.body = std::move(body);
    req.request_id = "req-direct";
    bool path_exists = false;
    const http::Route* route = router_.Match(req.method, req.path, &req.params, &path_exists);
    EXPECT_NE(route, nullptr) << path;
    return route;
  }

  Reply Call(http::Method method, const std::string& path, const std::string& body = "",
             std::map<std::string, std::string> query = {}) {
    http::Request req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = std::move(query);
    req.body = body;
    req.request_id = "req-test";
    req.principal.anonymous = false;
    req.principal.role = caller_role_;
    req.principal.token_label = std::string(http::ToString(caller_role_));
    req.headers = caller_headers_;
    bool path_exists = false;
    const http::Route* route = router_.Match(method, path, &req.params, &path_exists);
    Reply r;
    if (route == nullptr) {
      ADD_FAILURE() << "no route for " << path;
      return r;
    }
    r.raw = route->handler(req);
    if (r.raw.on_pool) {  // the rest of an I/O-thread handler, which the server runs on its pool
      auto rest = std::move(r.raw.on_pool);
      r.raw = rest(req);
    }
    if (r.raw.completion) {  // answered when the store's completion runs, as the server does
      auto answered = std::make_shared<std::promise<http::Response>>();
      std::future<http::Response> answer = answered->get_future();
      r.raw.completion->OnComplete(
          [answered](http::Response response) { answered->set_value(std::move(response)); });
      if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        ADD_FAILURE() << "the deferred answer to " << path << " never came";
        return r;
      }
      r.raw = answer.get();
    }
    if (r.raw.long_poll) {
      auto ready = r.raw.long_poll->poll();
      r.raw = ready ? *ready : r.raw.long_poll->on_timeout();
    }
    r.status = r.raw.status;
    if (!r.raw.body.empty()) {
      boost::system::error_code ec;
      r.body = boost::json::parse(r.raw.body, ec);
      EXPECT_FALSE(ec) << r.raw.body;
    }
    return r;
  }
  // Who the next calls come from (default: an admin token, no extra headers).
  http::Role caller_role_ = http::Role::kAdmin;
  std::vector<std::pair<std::string, std::string>> caller_headers_;

  Reply Post(const std::string& path, const boost::json::value& body) {
    return Call(http::Method::kPost, path, boost::json::serialize(body));
  }
  Reply PostRaw(const std::string& path, const std::string& body) {
    return Call(http::Method::kPost, path, body);
  }
  Reply Get(const std::string& path, std::map<std::string, std::string> query = {}) {
    return Call(http::Method::kGet, path, "", std::move(query));
  }

  Reply Join(const std::string& id, boost::json::object extra = {}) {
    extra["id"] = id;
    return Post("/v1/populi/join", extra);
  }
  int64_t Deliver(const std::string& receiver, boost::json::object extra = {}) {
    extra["sender"] = "submitter-1";
    extra["receiver"] = receiver;
    if (!extra.contains("message_type")) extra["message_type"] = "task_submit";
    if (!extra.contains("payload")) extra["payload"] = "{}";
    Reply r = Post("/v1/populi/a2a/deliver", extra);
    EXPECT_EQ(r.status, 200) << r.raw.body;
    return r.status == 200 ? r.obj().at("message_id").as_int64() : 0;
  }
  std::string ErrorCode(const Reply& r) {
    return std::string(r.obj().at("error").at("code").as_string());
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<store::MeshStore> store_;
  std::unique_ptr<ControlPlane> plane_;
  http::Router router_;
};

}  // namespace populi::control::testing
