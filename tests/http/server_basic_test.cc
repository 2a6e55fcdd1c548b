// Routing, request ids, error bodies, body/header limits, malformed input, lifecycle errors.
#include <boost/json/parse.hpp>
#include <cctype>

#include "client/http_client.h"
#include "http/test_server.h"
#include "obs/span_store.h"

namespace populi::http::testing {
namespace {

using client::HttpClient;

class ServerBasicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_ = Authenticator::Open();
    auto server = Server::Start(TestOptions(), TestRouter(state_), *auth_, log_.logger());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<HttpClient>(server_->url());
  }
  void ExpectStillServing() {
    HttpClient fresh(server_->url());
    auto health = fresh.Send("GET", "/health");
    ASSERT_TRUE(health.ok()) << health.status().ToString();
    EXPECT_EQ(health->status, 200);
  }
  static boost::json::object ErrorOf(const client::ClientResponse& r) {
    return boost::json::parse(r.body).at("error").as_object();
  }

  CapturedLog log_;
  RouteState state_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ServerBasicTest, RoutesWithParamsAndQuery) {
  auto r = client_->Send("GET", "/v1/populi/items/abc%20d?q=x%2By&q2=z");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto body = boost::json::parse(r->body);
  EXPECT_EQ(body.at("id").as_string(), "abc d");
  EXPECT_EQ(body.at("q").as_string(), "x+y");
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->Header("x-populi-wire-version"), "1");
  EXPECT_EQ(server_->url().rfind("http://127.0.0.1:", 0), 0u);
  EXPECT_GT(server_->port(), 0);
}

TEST_F(ServerBasicTest, UnknownRouteIs404AndWrongMethodIs405WithErrorBody) {
  auto missing = client_->SendRaw("GET", "/v1/populi/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  auto error = ErrorOf(*missing);
  EXPECT_EQ(error.at("code").as_string(), "not_found");
  EXPECT_FALSE(error.at("hint").as_string().empty());
  EXPECT_EQ(error.at("request_id").as_string(), missing->Header("x-request-id"));

  auto wrong = client_->SendRaw("DELETE", "/health");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_NE(ErrorOf(*wrong).at("message").as_string().find("DELETE"), std::string::npos);
}

TEST_F(ServerBasicTest, RequestIdEchoedWhenSaneElseGenerated) {
  auto echoed = client_->Send("GET", "/health", {}, {{"x-request-id", "abc.DEF_123-x"}});
  ASSERT_TRUE(echoed.ok());
  EXPECT_EQ(echoed->Header("x-request-id"), "abc.DEF_123-x");

  for (std::string bad : {std::string("has space"), std::string(129, 'a'), std::string("a/b")}) {
    auto generated = client_->Send("GET", "/health", {}, {{"x-request-id", bad}});
    ASSERT_TRUE(generated.ok());
    EXPECT_NE(generated->Header("x-request-id"), bad);
    EXPECT_FALSE(generated->Header("x-request-id").empty());
  }
  auto a = client_->Send("GET", "/health");
  auto b = client_->Send("GET", "/health");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->Header("x-request-id"), b->Header("x-request-id"));
}

TEST_F(ServerBasicTest, EveryRequestLogsOneStructuredLine) {
  auto r = client_->Send("GET", "/v1/populi/items/7", {}, {{"x-request-id", "log-check-1"}});
  ASSERT_TRUE(r.ok());
  std::string text = log_.Text();
  size_t at = text.find("request_id=log-check-1");
  ASSERT_NE(at, std::string::npos) << text;
  std::string line = text.substr(at, text.find('\n', at) - at);
  EXPECT_NE(line.find("route=items.get"), std::string::npos) << line;
  EXPECT_NE(line.find("status=200"), std::string::npos) << line;
  EXPECT_NE(line.find("principal=anonymous"), std::string::npos) << line;
  EXPECT_NE(line.find("duration_ms="), std::string::npos) << line;
  EXPECT_EQ(text.find("request_id=log-check-1", at + 1), std::string::npos);
}

TEST_F(ServerBasicTest, HandlerExceptionIs500AndServerKeepsServing) {
  auto r = client_->SendRaw("GET", "/v1/populi/throw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorOf(*r).at("code").as_string(), "internal");
  ExpectStillServing();
}

TEST_F(ServerBasicTest, BodyOverRouteLimitIs413BeforeBodyIsRead) {
  auto ok = client_->Send("POST", "/v1/populi/items", std::string(1024, 'x'));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->status, 201);

  // Declares 10 MB and sends only the header: the 413 must come without the body.
  RawSocket raw(server_->port());
  ASSERT_TRUE(raw.connected());
  raw.Send("POST /v1/populi/items HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n");
  std::string response = raw.ReadResponse();
  EXPECT_EQ(StatusOf(response), 413) << response;
  EXPECT_NE(response.find("too_large"), std::string::npos);
  ExpectStillServing();
}

TEST_F(ServerBasicTest, ChunkedBodiesAre411BeforeAnyChunkIsParsed) {
  std::string chunk(800, 'y');
  const std::vector<std::string> chunked = {
      "POST /v1/populi/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" +
          chunk + "\r\n0\r\n\r\n",
      // An invalid chunk size: refused for being chunked, not parsed into a 400.
      "POST /v1/populi/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\nabc\r\n0\r\n\r\n",
  };
  for (const std::string& request : chunked) {
    RawSocket raw(server_->port());
    ASSERT_TRUE(raw.connected());
    raw.Send(request);
    std::string response = raw.ReadResponse();
    EXPECT_EQ(StatusOf(response), 411) << response;
    EXPECT_NE(response.find("chunked request bodies are not accepted"), std::string::npos);
    EXPECT_NE(response.find("Content-Length"), std::string::npos) << "the hint names the fix";
  }
  ExpectStillServing();
}

TEST_F(ServerBasicTest, OversizedHeaderIs431) {
  RawSocket raw(server_->port());
  raw.Send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'h') + "\r\n\r\n");
  std::string response = raw.ReadResponse();
  EXPECT_EQ(StatusOf(response), 431) << response.substr(0, 200);
  ExpectStillServing();
}

TEST_F(ServerBasicTest, MalformedRequestsGetClean400AndServerKeepsServing) {
  const std::vector<std::string> garbage = {
      "G@T /health HTTP/1.1\r\nHost: x\r\n\r\n",     // bad method token
      "this is not http\r\n\r\n",                    // garbage request line
      "GET /health HTTP/9.9\r\nHost: x\r\n\r\n",     // bad version
      "GET /health HTTP/1.1\r\nBad Header\r\n\r\n",  // field without colon
      "GET health HTTP/1.1\r\nHost: x\r\n\r\n",      // not origin-form
  };
  for (const std::string& request : garbage) {
    RawSocket raw(server_->port());
    ASSERT_TRUE(raw.connected());
    raw.Send(request);
    std::string response = raw.ReadResponse();
    EXPECT_EQ(StatusOf(response), 400) << request << "\n→ " << response;
  }
  ExpectStillServing();
}

TEST_F(ServerBasicTest, UnknownMethodOnKnownPathIs405) {
  RawSocket raw(server_->port());
  raw.Send("PATCH /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(raw.ReadResponse()), 405);
}

TEST_F(ServerBasicTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  RawSocket raw(server_->port());
  for (int i = 0; i < 3; ++i) {
    raw.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string response = raw.ReadResponse();
    ASSERT_EQ(StatusOf(response), 200) << i;
  }
}

// The response head is formatted by the server: a handler's header replaces the default of the
// same name, CR/LF in a value cannot add a field, and 204 carries no length or body.
TEST(ServerResponseHead, HandlerHeadersOverrideDefaultsAndCannotSplitTheHead) {
  Router router;
  Route custom;
  custom.method = Method::kGet;
  custom.pattern = "/v1/populi/custom";
  custom.name = "custom";
  custom.handler = [](Request&) {
    Response r = JsonResponse("hello", 201);
    r.content_type = "application/json";
    r.SetHeader("Content-Type", "text/plain");
    r.SetHeader("x-request-id", "from-handler");
    r.SetHeader("x-note", "a\r\nInjected: yes");
    return r;
  };
  router.Add(std::move(custom));
  Route empty;
  empty.method = Method::kGet;
  empty.pattern = "/v1/populi/empty";
  empty.name = "empty";
  empty.handler = [](Request&) { return NoContent(); };
  router.Add(std::move(empty));
  auto auth = Authenticator::Open();
  CapturedLog log;
  auto server = Server::Start(TestOptions(), std::move(router), *auth, log.logger());
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  RawSocket raw((*server)->port());
  ASSERT_TRUE(raw.connected());
  raw.Send("GET /v1/populi/custom HTTP/1.1\r\nHost: x\r\nx-request-id: client-id\r\n\r\n");
  const std::string response = raw.ReadResponse();
  ASSERT_EQ(StatusOf(response), 201) << response;
  // Field names compared case-insensitively: the whole head lower-cased.
  std::string head = response.substr(0, response.find("\r\n\r\n") + 2);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto count = [&head](const std::string& line) {
    size_t n = 0;
    for (size_t at = head.find(line); at != std::string::npos; at = head.find(line, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("\r\ncontent-type: "), 1u) << head;
  EXPECT_EQ(count("\r\ncontent-type: text/plain\r\n"), 1u) << head;
  EXPECT_EQ(count("\r\nx-request-id: "), 1u) << head;
  EXPECT_EQ(count("\r\nx-request-id: from-handler\r\n"), 1u) << head;
  EXPECT_EQ(count("\r\nx-note: ainjected: yes\r\n"), 1u) << head;
  EXPECT_EQ(count("\r\ninjected:"), 0u) << head;
  EXPECT_EQ(count("\r\ncontent-length: 5\r\n"), 1u) << head;
  EXPECT_EQ(response.substr(response.size() - 5), "hello");

  raw.Send("GET /v1/populi/empty HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string no_content = raw.ReadResponse();
  ASSERT_EQ(StatusOf(no_content), 204) << no_content;
  EXPECT_EQ(no_content.find("Content-Length"), std::string::npos) << no_content;
  EXPECT_EQ(no_content.find("content-length"), std::string::npos) << no_content;
  EXPECT_EQ(no_content.size(), no_content.find("\r\n\r\n") + 4) << "no body after a 204";
  // The connection is still usable after the bodiless answer.
  raw.Send("GET /v1/populi/custom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string last = raw.ReadAll();
  EXPECT_EQ(StatusOf(last), 201) << last;
  EXPECT_NE(last.find("\r\nConnection: close\r\n"), std::string::npos) << last;
  EXPECT_TRUE(raw.WaitClosed(2'000));
}

TEST(ServerLifecycle, PortInUseIsAClearError) {
  RouteState state;
  auto auth = Authenticator::Open();
  auto first = Server::Start(TestOptions(), TestRouter(state), *auth);
  ASSERT_TRUE(first.ok());
  ServerOptions options = TestOptions();
  options.bind = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = Server::Start(options, TestRouter(state), *auth);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(
      second.status().message().find("port " + std::to_string((*first)->port()) + " is in use"),
      std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find("[mesh.control].bind"), std::string::npos);
}

TEST(ServerLifecycle, BadBindAndHalfTlsConfigAreRejected) {
  RouteState state;
  auto auth = Authenticator::Open();
  for (std::string bind : {"127.0.0.1", "127.0.0.1:99999", "not-an-ip:80", "127.0.0.1:x"}) {
    ServerOptions options = TestOptions();
    options.bind = bind;
    auto server = Server::Start(options, TestRouter(state), *auth);
    ASSERT_FALSE(server.ok()) << bind;
    EXPECT_EQ(server.status().code(), Code::kInvalidArgument) << bind;
    EXPECT_FALSE(server.status().hint().empty());
  }
  ServerOptions options = TestOptions();
  options.tls_cert_path = "/nonexistent/cert.pem";
  auto server = Server::Start(options, TestRouter(state), *auth);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace populi::http::testing

namespace populi::http::testing {
namespace {

// Every request is a server span, except on an untraced route (a probe) whose caller sent no
// traceparent; the span continues the caller's traceparent when there is one.
TEST(ServerSpanTest, ProbesAreTracedOnlyWhenTheCallerTracesThem) {
  obs::SpanBuffer spans;
  ServerOptions options = TestOptions();
  options.spans = &spans;
  Router router;
  Route probe;
  probe.pattern = "/health";
  probe.name = "health";
  probe.traced = false;
  probe.handler = [](Request&) { return JsonResponse(R"({"ok":true})"); };
  router.Add(probe);
  Route work;
  work.pattern = "/work";
  work.name = "work";
  work.handler = [](Request&) { return JsonResponse("{}"); };
  router.Add(work);
  auto auth = Authenticator::Open();
  auto server = Server::Start(options, router, *auth);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  auto get = [port](const std::string& path, const std::string& headers) {
    RawSocket socket(port);
    EXPECT_TRUE(socket.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + headers +
                            "Connection: close\r\n\r\n"));
    return StatusOf(socket.ReadAll());
  };
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  EXPECT_EQ(get("/health", ""), 200);
  EXPECT_EQ(get("/work", ""), 200);
  EXPECT_EQ(get("/health", "traceparent: " + parent + "\r\n"), 200);
  EXPECT_EQ(get("/work", "traceparent: garbage\r\n"), 200);
  (*server)->Stop();

  const std::vector<obs::Span> recorded = spans.Take();
  ASSERT_EQ(recorded.size(), 3u);  // not the untraced probe without a traceparent
  EXPECT_EQ(recorded[0].name, "GET /work");
  EXPECT_FALSE(recorded[0].has_parent());  // a new root
  EXPECT_EQ(recorded[1].name, "GET /health");
  EXPECT_EQ(obs::ToHex(recorded[1].trace_id.data(), 16), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(obs::ToHex(recorded[1].parent_span_id.data(), 8), "00f067aa0ba902b7");
  EXPECT_EQ(recorded[1].kind, obs::SpanKind::kServer);
  EXPECT_EQ(recorded[2].name, "GET /work");
  EXPECT_FALSE(recorded[2].has_parent());  // a malformed traceparent starts a new trace
  const obs::AttributeValue* status = recorded[1].Find("http.response.status_code");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(std::get<int64_t>(*status), 200);
}

}  // namespace
}  // namespace populi::http::testing
