// The client's transport: Beast over Asio, one io_context per connection, each operation run
// to completion on the calling thread (a blocking API with Beast's per-operation deadlines).
#include "client/connection.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <chrono>
#include <optional>

namespace populi::client::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kConnectCap = std::chrono::seconds(10);
constexpr std::uint64_t kMaxResponseBody = std::uint64_t{256} << 20;
constexpr const char* kUnreachableHint =
    "start it with `vox populi serve`, or check the mesh URL (--url or mesh.url in "
    "~/.vox/config.toml)";

struct Endpoint {
  bool tls = false;
  std::string host;  // without IPv6 brackets
  std::string port;
  std::string host_header;  // as the URL spells it
  bool host_is_ip = false;
};

Result<Endpoint> ParseBaseUrl(const std::string& base_url) {
  auto invalid = [&](std::string_view what) {
    return InvalidArgument("control plane URL " + base_url + " is not valid: " + std::string(what),
                           "use http://HOST:PORT or https://HOST:PORT");
  };
  auto parsed = boost::urls::parse_uri(base_url);
  if (!parsed) return invalid(parsed.error().message());
  Endpoint endpoint;
  if (parsed->scheme() == "https") {
    endpoint.tls = true;
  } else if (parsed->scheme() != "http") {
    return invalid("the scheme must be http or https");
  }
  if (parsed->has_userinfo()) return invalid("credentials in the URL are not accepted");
  endpoint.host = parsed->host_address();
  if (endpoint.host.empty()) return invalid("it names no host");
  endpoint.host_is_ip = parsed->host_type() == boost::urls::host_type::ipv4 ||
                        parsed->host_type() == boost::urls::host_type::ipv6;
  endpoint.port =
      parsed->has_port() ? std::string(parsed->port()) : std::string(endpoint.tls ? "443" : "80");
  endpoint.host_header = std::string(parsed->encoded_host_and_port());
  return endpoint;
}

bool IsTlsError(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

// The server closed a kept-alive connection before this request reached it.
bool IsStaleConnection(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

}  // namespace

struct Connection::Impl {
  std::string base_url;
  std::string ca_file;
  std::optional<Result<Endpoint>> endpoint;  // parsed on first use
  asio::io_context ioc{1};
  std::unique_ptr<ssl::context> tls_context;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool failed_before_send = false;   // the last exchange failed before sending (connect, TLS)
  std::atomic<bool> aborted{false};  // Abort() was called: every operation fails

  bool connected() const { return plain != nullptr || secure != nullptr; }
  beast::tcp_stream& Lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void Close() {
    beast::error_code ignored;
    if (connected()) Lowest().socket().close(ignored);
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  // Starts one asynchronous operation and runs the io_context until it completes. Beast
  // cancels an operation's deadline timer when the operation finishes, so run() returns then.
  template <class Initiate>
  beast::error_code Run(Initiate&& initiate) {
    beast::error_code result = asio::error::would_block;
    initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    // An Abort() before this operation started; one during it posts CancelIo to the io_context.
    if (aborted.load()) CancelIo();
    ioc.run();
    return result;
  }

  // Cancels the operation in progress; runs on the thread that runs the io_context.
  void CancelIo() {
    if (connected()) Lowest().cancel();
  }

  // Applies the request deadline (or none) to the next operation.
  void Arm(std::optional<Clock::time_point> deadline) {
    if (deadline) {
      Lowest().expires_at(*deadline);
    } else {
      Lowest().expires_never();
    }
  }

  Status Failure(const beast::error_code& ec) const {
    if (aborted.load()) return Cancelled();
    if (ec == beast::error::timeout) {
      return Status(Code::kTimeout, "request to " + base_url + " timed out",
                    "retry; if it persists check the control plane's load and the network");
    }
    if (IsTlsError(ec)) {
      return Unavailable("TLS with the control plane at " + base_url + " failed: " + ec.message(),
                         "check the CA file for the mesh certificate and the URL's host name");
    }
    return Unavailable("control plane unreachable at " + base_url + ": " + ec.message(),
                       kUnreachableHint);
  }

  // A kept-alive plain connection the server has closed reads as readable (EOF) at once.
  // (Not for TLS: a session ticket arriving after the handshake also makes the socket readable.)
  bool PlainPeerClosed() {
    if (!plain) return false;
    pollfd fd{plain->socket().native_handle(), POLLIN, 0};
    return ::poll(&fd, 1, 0) != 0;
  }

  Status Connect(const Endpoint& endpoint, std::optional<Clock::time_point> deadline) {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) return Failure(ec);
    const auto connect_by =
        std::min(deadline.value_or(Clock::time_point::max()), Clock::now() + kConnectCap);
    if (endpoint.tls) {
      if (!tls_context) {
        auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
        if (ca_file.empty()) {
          context->set_default_verify_paths(ec);
        } else {
          context->load_verify_file(ca_file, ec);
        }
        if (ec) {
          return Unavailable(
              "TLS with the control plane at " + base_url + " failed: cannot load the CA file " +
                  (ca_file.empty() ? std::string("(system roots)") : ca_file) + ": " + ec.message(),
              "point mesh.tls.ca_path at the PEM certificate that signed the mesh's");
        }
        tls_context = std::move(context);
      }
      secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, *tls_context);
      secure->set_verify_mode(ssl::verify_peer);
      secure->set_verify_callback(ssl::host_name_verification(endpoint.host));
      if (!endpoint.host_is_ip) {
        // Server name indication, for servers that host several names.
        SSL_set_tlsext_host_name(secure->native_handle(), endpoint.host.c_str());
      }
    } else {
      plain = std::make_unique<beast::tcp_stream>(ioc);
    }
    Lowest().expires_at(connect_by);
    ec = Run([&](auto handler) { Lowest().async_connect(results, std::move(handler)); });
    if (!ec) Lowest().socket().set_option(tcp::no_delay(true), ec);
    if (!ec && secure) {
      Arm(deadline);
      ec = Run([&](auto handler) {
        secure->async_handshake(ssl::stream_base::client, std::move(handler));
      });
    }
    if (ec) {
      Close();
      return Failure(ec);
    }
    return Status::Ok();
  }

  bhttp::request<bhttp::string_body> BuildRequest(const Endpoint& endpoint,
                                                  const OutgoingRequest& request) const {
    bhttp::request<bhttp::string_body> message;
    message.version(11);
    message.method_string(request.method);
    message.target(request.target);
    message.set(bhttp::field::host, endpoint.host_header);
    message.set(bhttp::field::user_agent, "vox");
    if (request.headers != nullptr) {
      for (const auto& [name, value] : *request.headers) message.insert(name, value);
    }
    message.body() = std::string(request.body);
    // An empty POST still says Content-Length: 0 (the server refuses bodies of unknown length).
    const bool sends_body = !request.body.empty() || request.method == "POST" ||
                            request.method == "PUT" || request.method == "PATCH";
    if (sends_body) message.content_length(request.body.size());
    return message;
  }

  template <class Stream, class Parser>
  beast::error_code WriteAndReadHeader(Stream& stream, bhttp::request<bhttp::string_body>& message,
                                       Parser& parser, std::optional<Clock::time_point> deadline) {
    Arm(deadline);
    beast::error_code ec =
        Run([&](auto handler) { bhttp::async_write(stream, message, std::move(handler)); });
    if (ec) return ec;
    Arm(deadline);
    return Run([&](auto handler) {
      bhttp::async_read_header(stream, buffer, parser, std::move(handler));
    });
  }

  Status Cancelled() const {
    return Unavailable("request to " + base_url + " was cancelled",
                       "the caller ended it; nothing to do");
  }

  static ClientResponse Head(const bhttp::response_header<>& header) {
    ClientResponse response;
    response.status = static_cast<int>(header.result_int());
    for (const auto& field : header) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    return response;
  }

  // Reads the body into `parser` (a buffer_body parser) chunk by chunk. A 2xx body goes to
  // `sink` when one is given; anything else is appended to *collected.
  template <class Stream, class Parser>
  beast::error_code ReadBody(Stream& stream, Parser& parser,
                             std::optional<Clock::time_point> deadline, const BodySink* sink,
                             std::string* collected, bool* stopped) {
    char chunk[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      Arm(deadline);
      beast::error_code ec = Run([&](auto handler) {
        bhttp::async_read_some(stream, buffer, parser, std::move(handler));
      });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == ssl::error::stream_truncated && parser.need_eof()) {
        parser.put_eof(ec);  // a TLS peer that closed without close_notify ends the body
      }
      if (ec) return ec;
      const size_t got = sizeof chunk - parser.get().body().size;
      if (got == 0) continue;
      if (sink != nullptr) {
        if (!(*sink)(std::string_view(chunk, got))) {
          *stopped = true;
          return {};
        }
      } else {
        if (collected->size() + got > kMaxResponseBody) return bhttp::error::body_limit;
        collected->append(chunk, got);
      }
    }
    return {};
  }

  template <class Stream>
  Result<ClientResponse> ExchangeOn(Stream& stream, const Endpoint& endpoint,
                                    const OutgoingRequest& request,
                                    std::optional<Clock::time_point> deadline, const BodySink* sink,
                                    bool* stopped, bool* retry_on_fresh) {
    auto message = BuildRequest(endpoint, request);
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(kMaxResponseBody);
    if (request.method == "HEAD") parser.skip(true);
    beast::error_code ec = WriteAndReadHeader(stream, message, parser, deadline);
    if (ec) {
      *retry_on_fresh = IsStaleConnection(ec) && !parser.got_some();
      Close();
      return Failure(ec);
    }
    ClientResponse response = Head(parser.get().base());
    const bool success = response.status >= 200 && response.status < 300;
    const BodySink* body_sink = success ? sink : nullptr;
    ec = ReadBody(stream, parser, deadline, body_sink, &response.body, stopped);
    if (ec) {
      Close();
      return Failure(ec);
    }
    if (*stopped || !parser.get().keep_alive()) Close();
    return response;
  }

  Result<ClientResponse> Exchange(const OutgoingRequest& request, int timeout_ms,
                                  const BodySink* sink, bool* stopped) {
    if (aborted.load()) return Cancelled();
    if (!endpoint) endpoint = ParseBaseUrl(base_url);
    failed_before_send = !endpoint->ok();
    if (!endpoint->ok()) return endpoint->status();
    const Endpoint& where = endpoint->value();
    std::optional<Clock::time_point> deadline;
    if (timeout_ms > 0) deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (int attempt = 0;; ++attempt) {
      if (PlainPeerClosed()) Close();
      const bool reused = connected();
      failed_before_send = false;
      if (!reused) {
        Status connected_now = Connect(where, deadline);
        if (!connected_now.ok()) {
          failed_before_send = true;
          return connected_now;
        }
      }
      bool retry_on_fresh = false;
      auto result =
          secure ? ExchangeOn(*secure, where, request, deadline, sink, stopped, &retry_on_fresh)
                 : ExchangeOn(*plain, where, request, deadline, sink, stopped, &retry_on_fresh);
      if (result.ok() || !reused || !retry_on_fresh || attempt > 0) return result;
    }
  }
};

Connection::Connection(std::string base_url, std::string ca_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->base_url = std::move(base_url);
  impl_->ca_file = std::move(ca_file);
}

Connection::~Connection() = default;

bool Connection::failed_before_send() const {
  return impl_->failed_before_send;
}

void Connection::Abort() {
  impl_->aborted.store(true);
  Impl* impl = impl_.get();
  asio::post(impl->ioc, [impl] { impl->CancelIo(); });
}

Result<ClientResponse> Connection::Exchange(const OutgoingRequest& request, int timeout_ms) {
  bool stopped = false;
  return impl_->Exchange(request, timeout_ms, nullptr, &stopped);
}

Result<ClientResponse> Connection::Stream(const OutgoingRequest& request, int timeout_ms,
                                          const BodySink& sink, bool* stopped) {
  *stopped = false;
  return impl_->Exchange(request, timeout_ms, &sink, stopped);
}

}  // namespace populi::client::internal
