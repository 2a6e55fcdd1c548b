// One connection's session: read → route → auth → limits → handler pool → write. A class
// template over the stream (plain TCP or TLS), included only by the two TUs that instantiate it
// (session_plain.cc, session_tls.cc), so each compiles in parallel with the other. The waits
// (long-polls, deferred completions, event streams) are defined in session_waits.h. Internal to
// src/control/http/.
#pragma once

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/url/parse.hpp>

#include "control/http/request_record.h"
#include "control/http/response_head.h"
#include "control/http/server_internal.h"

namespace populi::http::session_detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using BeastRequest = bhttp::request_parser<bhttp::string_body>;

constexpr size_t kMaxNodeIdBytes = 128;

inline Method ToMethod(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::delete_:
      return Method::kDelete;
    default:
      return Method::kOther;
  }
}

inline bool IsHttpParseError(const boost::system::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category();
}

// Runs `fn` on the handler pool and resumes the calling coroutine on its own strand. A thrown
// exception becomes a 500; handlers are not supposed to throw, but one must not kill the server.
template <typename T, typename Fn>
asio::awaitable<T> OnPool(asio::thread_pool& pool, Fn fn) {
  co_return co_await asio::co_spawn(
      pool.get_executor(), [fn = std::move(fn)]() mutable -> asio::awaitable<T> { co_return fn(); },
      asio::use_awaitable);
}

// Everything one request needs between its stages.
struct Exchange {
  Request request;
  const Route* route = nullptr;
  std::string route_name = "-";
  Response response;
  bool close_after = false;  // the body was not read or the client asked: close afterwards
  std::string_view refusal;  // RequestRecord::refusal
  SteadyClock::time_point started = SteadyClock::now();
};

template <typename Stream>
class Session {
 public:
  Session(Server::Impl& server, Stream& stream, std::string remote)
      : server_(server),
        opts_(server.options_),
        stream_(stream),
        remote_(std::move(remote)),
        remote_ip_(remote_.substr(0, remote_.rfind(':'))) {}

  asio::awaitable<void> Serve() {
    bool first = true;
    for (;;) {
      BeastRequest parser;
      parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
      parser.body_limit(boost::none);  // the route's limit is applied once the header is read
      boost::system::error_code ec;
      if (!first && buffer_.size() == 0) {
        // Keep-alive: wait for the first byte of the next request under the idle timeout.
        Lowest().expires_after(std::chrono::milliseconds(opts_.idle_timeout_ms));
        co_await bhttp::async_read_some(stream_, buffer_, parser, Redirect(ec));
      }
      if (!ec && !parser.is_header_done()) {
        Lowest().expires_after(std::chrono::milliseconds(opts_.header_timeout_ms));
        co_await bhttp::async_read_header(stream_, buffer_, parser, Redirect(ec));
      }
      first = false;
      if (ec) {
        co_await AnswerReadError(ec, /*header=*/true);
        co_return;
      }
      InFlightGuard in_flight(server_.in_flight_);
      Exchange ex;
      if (!co_await Admit(parser, ex)) {
        if (co_await Respond(ex)) continue;
        co_return;
      }
      if (!parser.is_done()) {
        Lowest().expires_after(std::chrono::milliseconds(opts_.body_timeout_ms));
        co_await bhttp::async_read(stream_, buffer_, parser, Redirect(ec));
        if (ec) {
          co_await AnswerReadError(ec, /*header=*/false, &ex);
          co_return;
        }
      }
      Lowest().expires_never();
      ex.request.body = std::move(parser.get().body());
      ex.close_after = ex.close_after || !parser.get().keep_alive();
      auto guarded = [&ex](const std::function<Response(Request&)>& handler) {
        try {
          return handler(ex.request);
        } catch (const std::exception& e) {
          return HandlerFailed(ex.request.request_id, e.what());
        }
      };
      // Not a conditional expression: g++ 12 miscompiles co_await inside ?: operands.
      if (ex.route->runs_inline) {
        ex.response = guarded(ex.route->handler);
      } else {
        ex.response = co_await OnPool<Response>(*server_.handler_pool_,
                                                [&] { return guarded(ex.route->handler); });
      }
      if (ex.response.on_pool) {
        std::function<Response(Request&)> rest = std::move(ex.response.on_pool);
        ex.response =
            co_await OnPool<Response>(*server_.handler_pool_, [&] { return guarded(rest); });
      }
      if (ex.response.completion) co_await AwaitCompletion(ex);
      if (ex.response.long_poll && !co_await FinishLongPoll(ex)) co_return;  // client gone
      if (ex.response.stream) {
        co_await StreamEvents(ex);
        co_return;
      }
      if (!co_await Respond(ex)) co_return;
    }
  }

 private:
  template <typename T = void>
  static auto Redirect(boost::system::error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
  }
  auto& Lowest() { return beast::get_lowest_layer(stream_); }

  // Route, authenticate, authorize, rate-limit and size-check a request whose header is read.
  // False with ex.response set when it is answered without running the handler.
  asio::awaitable<bool> Admit(BeastRequest& parser, Exchange& ex) {
    if (!ReadHead(parser, ex) || !RouteRequest(parser, ex)) co_return false;
    if (!co_await Authenticate(parser.get(), ex)) co_return false;
    if (!CheckBodySize(parser, ex)) co_return false;
    ex.close_after = false;
    auto& head = parser.get();
    if (beast::iequals(head[bhttp::field::expect], "100-continue") && !parser.is_done()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      boost::system::error_code ec;
      Lowest().expires_after(std::chrono::milliseconds(opts_.write_timeout_ms));
      co_await asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                                 Redirect(ec));
    }
    co_return true;
  }

  // Request id, method, target, headers, path and query into ex.request; false (answered) for a
  // target that is not a valid path.
  bool ReadHead(BeastRequest& parser, Exchange& ex) {
    auto& head = parser.get();
    Request& req = ex.request;
    std::string_view client_id(head[kRequestIdHeader]);
    req.request_id = IsSaneRequestId(client_id) ? std::string(client_id) : server_.NextRequestId();
    req.method = ToMethod(head.method());
    req.target = std::string(head.target());
    req.remote_addr = remote_;
    for (const auto& field : head) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    // A malformed traceparent is not the request's fault: the server starts a new trace.
    if (auto parent = obs::ParseTraceparent(req.Header("traceparent"), req.Header("tracestate"));
        parent.ok()) {
      req.trace_parent = std::move(*parent);
    }
    req.trace = obs::ChildOf(req.trace_parent);
    // A rejected request's body is never read, so the connection can only be reused when it
    // has none.
    ex.close_after = !parser.is_done() || !head.keep_alive();
    auto target = boost::urls::parse_origin_form(head.target());
    if (!target) {
      ex.response = ErrorResponse(
          InvalidArgument("request target is not a valid path", "send an origin-form target"),
          req.request_id);
      return false;
    }
    req.path = target->path();
    for (const auto& param : target->params()) {
      req.query[std::string(param.key)] = std::string(param.value);
    }
    return true;
  }

  // The route (404 / 405 when none), a source address locked out after failed authentication
  // (429), and chunked bodies (411); false when answered.
  bool RouteRequest(BeastRequest& parser, Exchange& ex) {
    auto& head = parser.get();
    Request& req = ex.request;
    bool path_exists = false;
    ex.route = server_.router_.Match(req.method, req.path, &req.params, &path_exists);
    if (ex.route == nullptr) {
      ex.response = path_exists ? ErrorResponse(Status(Code::kInvalidArgument,
                                                       std::string(head.method_string()) +
                                                           " is not allowed on " + req.path,
                                                       "use one of the methods this path supports"),
                                                req.request_id)
                                : ErrorResponse(NotFound("no route for " + req.path,
                                                         "check the URL; routes start /v1/populi/"),
                                                req.request_id);
      if (path_exists) ex.response.status = 405;
      return false;
    }
    ex.route_name = ex.route->name;
    if (auto locked_ms = AuthLockedOut(*ex.route)) {
      ex.response = ErrorResponse(
          Status(Code::kResourceExhausted, "too many failed authentications from " + remote_ip_,
                 "check the token; retry after the number of seconds in Retry-After"),
          req.request_id);
      ex.response.SetHeader("retry-after",
                            std::to_string(std::max<int64_t>(1, (*locked_ms + 999) / 1000)));
      ex.refusal = "auth_lockout";
      return false;
    }
    if (parser.chunked()) {
      // Every client of this API knows its body's length up front; refusing chunked bodies keeps
      // Beast's chunk parser (which a fuzzer found an over-read in) off untrusted input.
      ex.response =
          ErrorResponse(Status(Code::kInvalidArgument, "chunked request bodies are not accepted",
                               "send the body with a Content-Length header"),
                        req.request_id);
      ex.response.status = 411;
      return false;
    }
    return true;
  }

  // The credential, the route's roles and the rate limits; false when answered.
  asio::awaitable<bool> Authenticate(const bhttp::request<bhttp::string_body>& head, Exchange& ex) {
    Request& req = ex.request;
    const std::string_view authorization = head[bhttp::field::authorization];
    Result<Principal> principal = Internal("not authenticated yet", "report this as a bug");
    // A JWT's id is recorded durably (replay guard): a store write, so off the I/O thread.
    if (server_.auth_.MayWaitOnReplayStore(authorization)) {
      auto checked = co_await OnPool<std::optional<Result<Principal>>>(*server_.handler_pool_, [&] {
        return std::optional<Result<Principal>>(server_.auth_.Authenticate(authorization));
      });
      principal = std::move(*checked);
    } else {
      principal = server_.auth_.Authenticate(authorization);
    }
    if (principal.ok()) req.principal = std::move(principal).value();
    Status allowed = principal.ok()
                         ? server_.auth_.Authorize(req.principal, ex.route->roles, ex.route->name)
                         : principal.status();
    if (!allowed.ok()) {
      ex.response = ErrorResponse(allowed, req.request_id);
      ex.refusal = "auth";
      co_return false;
    }
    if (opts_.on_authenticated && !req.principal.anonymous) opts_.on_authenticated(req.principal);
    if (auto retry_ms = ex.route->liveness ? std::nullopt : RateLimited(req)) {
      ex.response =
          ErrorResponse(Status(Code::kResourceExhausted, "rate limit exceeded for this caller",
                               "slow down; retry after the number of seconds in Retry-After"),
                        req.request_id);
      ex.response.SetHeader("retry-after",
                            std::to_string(std::max<int64_t>(1, (*retry_ms + 999) / 1000)));
      ex.refusal = "rate_limit";
      co_return false;
    }
    co_return true;
  }

  // 413 for a declared body over the route's limit; sets the parser's limit otherwise.
  bool CheckBodySize(BeastRequest& parser, Exchange& ex) {
    auto& head = parser.get();
    const size_t limit =
        ex.route->max_body_bytes > 0 ? ex.route->max_body_bytes : opts_.default_max_body_bytes;
    if (head.has_content_length() && parser.content_length().value_or(0) > limit) {
      ex.response = ErrorResponse(Status(Code::kTooLarge,
                                         "request body is larger than " + std::to_string(limit) +
                                             " bytes (route " + ex.route->name + ")",
                                         "send a smaller body or split the request"),
                                  ex.request.request_id);
      return false;
    }
    parser.body_limit(limit);
    return true;
  }

  static int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               SteadyClock::now().time_since_epoch())
        .count();
  }

  // Milliseconds until this source address may try again, while too many of its requests failed
  // authentication. /health stays answered.
  std::optional<int64_t> AuthLockedOut(const Route& route) const {
    if (route.name == "health") return std::nullopt;
    return server_.auth_failures_.Peek(remote_ip_, SteadyMs());
  }

  // A 401 answer (a wrong token, or a handler refusing a secret such as a bootstrap token)
  // costs the source address one try; the first answer that empties its bucket is logged and
  // reported once.
  void NoteAuthFailure() {
    const int64_t now = SteadyMs();
    const bool was_locked = server_.auth_failures_.Peek(remote_ip_, now).has_value();
    (void)server_.auth_failures_.Acquire(remote_ip_, now);
    if (was_locked || !server_.auth_failures_.Peek(remote_ip_, now)) return;
    server_.logger_->warn("http auth lockout remote={}: too many failed authentications",
                          remote_ip_);
    if (opts_.on_auth_lockout) opts_.on_auth_lockout(remote_ip_);
  }

  // Milliseconds until the caller may retry, when its token or node id is over the rate.
  std::optional<int64_t> RateLimited(const Request& req) {
    if (!server_.limiter_.enabled()) return std::nullopt;
    const int64_t now = SteadyMs();
    std::optional<int64_t> wait;
    if (!req.principal.anonymous) {
      wait = server_.limiter_.Acquire("token:" + req.principal.token_label, now);
    }
    std::string_view node_id = req.Header(kNodeIdHeader);
    if (!wait && !node_id.empty()) {
      wait =
          server_.limiter_.Acquire("node:" + std::string(node_id.substr(0, kMaxNodeIdBytes)), now);
    }
    return wait;
  }

  // Header or body read failed: answer what deserves an answer, then the connection closes.
  asio::awaitable<void> AnswerReadError(const boost::system::error_code& ec, bool header,
                                        Exchange* partial = nullptr) {
    Exchange local;
    Exchange& ex = partial != nullptr ? *partial : local;
    if (ex.request.request_id.empty()) ex.request.request_id = server_.NextRequestId();
    ex.close_after = true;
    if (ec == bhttp::error::header_limit) {
      ex.response = ErrorResponse(Status(Code::kTooLarge,
                                         "request header is larger than " +
                                             std::to_string(opts_.max_header_bytes) + " bytes",
                                         "send fewer or shorter headers"),
                                  ex.request.request_id);
      ex.response.status = 431;
    } else if (ec == bhttp::error::body_limit) {
      ex.response =
          ErrorResponse(Status(Code::kTooLarge, "request body is larger than the route allows",
                               "send a smaller body or split the request"),
                        ex.request.request_id);
    } else if (IsHttpParseError(ec) && ec != bhttp::error::end_of_stream &&
               ec != bhttp::error::partial_message) {
      ex.response = ErrorResponse(
          InvalidArgument("malformed HTTP request: " + ec.message(), "send valid HTTP/1.1"),
          ex.request.request_id);
    } else {
      // Closed, reset or timed out (slow client): nobody to answer.
      if (ec == beast::error::timeout) {
        server_.logger_->info("http request_id={} remote={} closed: {} timeout",
                              ex.request.request_id, remote_, header ? "header" : "body");
      }
      co_return;
    }
    co_await Respond(ex);
  }

  // The waits (session_waits.h).
  class DropWatch;
  struct Waiter;
  // Re-runs the long-poll until it answers, its topic's deadline passes or the server stops.
  // False when the client of a held poll (LongPoll::holder) closed its connection meanwhile:
  // reported to on_long_poll_dropped, and nobody is left to answer.
  asio::awaitable<bool> FinishLongPoll(Exchange& ex);
  // Waits, holding no thread, for the response a handler deferred (Response::completion).
  asio::awaitable<void> AwaitCompletion(Exchange& ex);
  // Writes the event stream's head, then its events as they come, until either side stops.
  asio::awaitable<void> StreamEvents(Exchange& ex);

  // Writes ex.response; false when the connection is (to be) closed. The head is formatted into
  // one reused string (response_head.h) and sent with the body in one gathered write: Beast's
  // serializer walks the fields through layered buffer views, a measurable share of a /health
  // request.
  asio::awaitable<bool> Respond(Exchange& ex) {
    const bool keep_alive = !ex.close_after && !server_.stopping_.load();
    const Response& response = ex.response;
    const bool bodyless = StatusHasNoBody(response.status);
    FormatResponseHead(response, ex.request.request_id, keep_alive,
                       bodyless ? std::nullopt : std::optional<size_t>(response.body.size()),
                       &head_);
    // Logged before the write so the line exists once the client has its answer.
    Log(ex, response.status);
    if (response.status == 401) NoteAuthFailure();
    if ((response.status == 401 || response.status == 403) && opts_.on_auth_refused) {
      opts_.on_auth_refused(AuthRefusal{remote_ip_, response.status, ex.route_name,
                                        ex.request.principal.token_label});
    }
    boost::system::error_code ec;
    Lowest().expires_after(std::chrono::milliseconds(opts_.write_timeout_ms));
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(head_), bodyless ? asio::const_buffer() : asio::buffer(response.body)};
    co_await asio::async_write(stream_, buffers, Redirect(ec));
    if (ec || !keep_alive) {
      co_await Close();
      co_return false;
    }
    co_return true;
  }

  void Log(const Exchange& ex, int status) {
    const double ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - ex.started).count();
    RecordFinishedRequest(
        opts_, *server_.logger_,
        {ex.request, ex.route, ex.route_name, ex.refusal, status, ms, remote_, remote_ip_});
  }

  asio::awaitable<void> Close() {
    boost::system::error_code ec;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      Lowest().expires_after(std::chrono::seconds(1));
      co_await stream_.async_shutdown(Redirect(ec));
    }
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  Server::Impl& server_;
  const ServerOptions& opts_;
  Stream& stream_;
  std::string remote_;
  std::string remote_ip_;  // remote_ without the port: the key of failed-authentication limits
  beast::flat_buffer buffer_;
  std::string head_;  // the response head being written (reused per request)
};

}  // namespace populi::http::session_detail
