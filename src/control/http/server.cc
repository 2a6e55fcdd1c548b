// Server lifecycle: bind, accept loop, connection cap, notifier, graceful stop.
#include "control/http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "control/http/server_internal.h"
#include "util/random.h"

namespace populi::http {
namespace {

namespace beast = boost::beast;
using asio::ip::tcp;

struct BindAddress {
  std::string host;
  int port = 0;
};

Result<BindAddress> ParseBind(const std::string& bind) {
  const std::string hint = "set [mesh.control].bind to HOST:PORT, e.g. 127.0.0.1:9847";
  size_t colon = bind.rfind(':');
  if (colon == std::string::npos || colon + 1 == bind.size()) {
    return InvalidArgument("bind address '" + bind + "' has no port", hint);
  }
  BindAddress out;
  out.host = bind.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host.empty() || out.host == "localhost") out.host = "127.0.0.1";
  const std::string port_text = bind.substr(colon + 1);
  if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), ::isdigit) ||
      std::stoi(port_text) > 65535) {
    return InvalidArgument("bind address '" + bind + "' has an invalid port", hint);
  }
  out.port = std::stoi(port_text);
  return out;
}

}  // namespace

// ---- TopicNotifier --------------------------------------------------------------------------

TopicNotifier::Subscription::Subscription(TopicNotifier& notifier, std::string topic)
    : notifier_(notifier), topic_(std::move(topic)) {
  std::lock_guard lock(notifier_.mu_);
  Topic& t = notifier_.topics_[topic_];
  ++t.subscribers;
  seen_ = t.generation;
}

TopicNotifier::Subscription::~Subscription() {
  std::lock_guard lock(notifier_.mu_);
  auto it = notifier_.topics_.find(topic_);
  if (it != notifier_.topics_.end() && --it->second.subscribers == 0) notifier_.topics_.erase(it);
}

void TopicNotifier::Subscription::Refresh() {
  std::lock_guard lock(notifier_.mu_);
  seen_ = notifier_.topics_[topic_].generation;
}

asio::awaitable<bool> TopicNotifier::Subscription::Wait(
    std::chrono::steady_clock::time_point deadline) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
  {
    std::lock_guard lock(notifier_.mu_);
    Topic& t = notifier_.topics_[topic_];
    if (notifier_.stopped_ || t.generation != seen_) co_return true;
    t.waiters.push_back(timer);
  }
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(notifier_.mu_);
  Topic& t = notifier_.topics_[topic_];
  std::erase(t.waiters, timer);
  co_return notifier_.stopped_ || t.generation != seen_;
}

void TopicNotifier::Wake(std::vector<std::shared_ptr<asio::steady_timer>>& waiters) {
  // Timers belong to their connection's strand: cancel them there, not on this thread.
  for (auto& timer : waiters) {
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
  waiters.clear();
}

void TopicNotifier::Notify(std::string_view topic) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(std::string(topic));
  if (it == topics_.end()) return;  // nobody is waiting or about to wait
  ++it->second.generation;
  Wake(it->second.waiters);
}

void TopicNotifier::NotifyAll() {
  std::lock_guard lock(mu_);
  for (auto& [name, topic] : topics_) {
    ++topic.generation;
    Wake(topic.waiters);
  }
}

void TopicNotifier::StopAll() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (auto& [name, topic] : topics_) Wake(topic.waiters);
}

// ---- Server::Impl ---------------------------------------------------------------------------

Server::Impl::Impl(ServerOptions options, const Router& router, const Authenticator& auth,
                   std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      router_(router),
      auth_(auth),
      logger_(logger != nullptr ? std::move(logger) : spdlog::default_logger()),
      limiter_(options_.rate_per_sec,
               options_.rate_burst > 0 ? options_.rate_burst : 2 * options_.rate_per_sec),
      auth_failures_(options_.auth_failure_rate_per_sec, options_.auth_failure_burst),
      request_id_prefix_(RandomHex(4)) {}

Server::Impl::~Impl() {
  Stop();
  Wait();
}

std::string Server::Impl::NextRequestId() {
  char counter[17];
  std::snprintf(counter, sizeof counter, "%08llx",
                static_cast<unsigned long long>(++request_counter_));
  return request_id_prefix_ + "-" + counter;
}

Status Server::Impl::Listen() {
  POPULI_ASSIGN_OR_RETURN(BindAddress bind, ParseBind(options_.bind));
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(bind.host, ec);
  if (ec) {
    return InvalidArgument("bind host '" + bind.host + "' is not an IP address",
                           "set [mesh.control].bind to an IP address and port, e.g. 0.0.0.0:9847");
  }
  if (!options_.tls_cert_path.empty() || !options_.tls_key_path.empty()) {
    if (options_.tls_cert_path.empty() || options_.tls_key_path.empty()) {
      return InvalidArgument("TLS needs both a certificate and a key",
                             "set both [mesh.tls] cert and key, or neither");
    }
    if (options_.tls_min_version != "1.2" && options_.tls_min_version != "1.3") {
      return InvalidArgument("TLS minimum version '" + options_.tls_min_version + "' is unknown",
                             "set [mesh.tls] min_version to \"1.2\" or \"1.3\"");
    }
    tls_.emplace(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
    ::SSL_CTX_set_min_proto_version(
        tls_->native_handle(), options_.tls_min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    tls_->use_certificate_chain_file(options_.tls_cert_path, ec);
    if (ec) {
      return InvalidArgument(
          "cannot load TLS certificate " + options_.tls_cert_path + ": " + ec.message(),
          "point [mesh.tls] cert at a readable PEM certificate chain");
    }
    tls_->use_private_key_file(options_.tls_key_path, asio::ssl::context::pem, ec);
    if (ec) {
      return InvalidArgument("cannot load TLS key " + options_.tls_key_path + ": " + ec.message(),
                             "point [mesh.tls] key at the PEM private key of the certificate");
    }
  }
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
    iocs_.push_back(std::make_unique<asio::io_context>(1));
    io_work_.push_back(asio::make_work_guard(*iocs_.back()));
  }
  acceptor_.emplace(*iocs_.front());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(bind.port));
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (ec == asio::error::address_in_use) {
    return Unavailable("port " + std::to_string(bind.port) +
                           " is in use — is another mesh process running? (vox populi status), "
                           "or set [mesh.control].bind",
                       "stop the other process or pick a free port in [mesh.control].bind");
  }
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + options_.bind + ": " + ec.message(),
                       "check [mesh.control].bind and that the address belongs to this machine");
  }
  port_ = acceptor_->local_endpoint().port();
  return Status::Ok();
}

void Server::Impl::Run() {
  handler_pool_.emplace(static_cast<size_t>(std::max(1, options_.handler_threads)));
  asio::co_spawn(*iocs_.front(), AcceptLoop(), asio::detached);
  for (auto& ioc : iocs_) {
    io_threads_.emplace_back([context = ioc.get()] { context->run(); });
  }
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    asio::io_context& home = *iocs_[next_ioc_++ % iocs_.size()];
    tcp::socket socket = co_await acceptor_->async_accept(
        asio::make_strand(home), asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or a connection reset before accept: back off briefly and go on.
      logger_->warn("http accept failed: {}", ec.message());
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto executor = socket.get_executor();
    if (connections_.load() >= options_.max_connections) {
      asio::co_spawn(executor, RejectBusy(std::move(socket)), asio::detached);
      continue;
    }
    ++connections_;
    asio::co_spawn(executor, RunSession(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::Impl::RejectBusy(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  const std::string id = NextRequestId();
  Response error = ErrorResponse(
      Unavailable("the control plane has reached its connection limit (" +
                      std::to_string(options_.max_connections) + ")",
                  "retry shortly; raise [mesh.control] max_connections if this persists"),
      id);
  beast::http::response<beast::http::string_body> res{beast::http::status::service_unavailable, 11};
  res.set(beast::http::field::content_type, "application/json");
  res.set(kRequestIdHeader, id);
  res.set(kWireVersionHeader, POPULI_WIRE_VERSION);
  res.set(beast::http::field::retry_after, "1");
  res.keep_alive(false);
  res.body() = std::move(error.body);
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(2));
  boost::system::error_code ec;
  co_await beast::http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  logger_->warn("http request_id={} status=503 reason=connection_limit", id);
}

void Server::Impl::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stop_started_ || iocs_.empty()) return;
    stop_started_ = true;
  }
  stopping_ = true;
  asio::post(*iocs_.front(), [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
  });
  notifier_.StopAll();
  // Let in-flight requests finish (their responses carry Connection: close), bounded.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (in_flight_.load() > 0) {
    logger_->warn("http stop: {} request(s) still running after {} ms; closing them",
                  in_flight_.load(), options_.shutdown_grace_ms);
  }
  {
    std::lock_guard lock(completion_gate_->mu);
    completion_gate_->open = false;
  }
  io_work_.clear();
  for (auto& ioc : iocs_) ioc->stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  if (handler_pool_) {
    handler_pool_->stop();
    handler_pool_->join();
  }
  // The handler pool goes first: work still queued there holds strand executors of the
  // io_contexts (a request that outlived the grace), so it must be destroyed while they exist.
  // Destroying them then destroys the suspended sessions (closing their sockets) while the state
  // they touch lives.
  acceptor_.reset();
  handler_pool_.reset();
  iocs_.clear();
  {
    std::lock_guard lock(stop_mu_);
    stopped_ = true;
  }
  stopped_cv_.notify_all();
}

void Server::Impl::Wait() {
  std::unique_lock lock(stop_mu_);
  stopped_cv_.wait(lock, [this] { return stopped_ || iocs_.empty(); });
}

// ---- Server ---------------------------------------------------------------------------------

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, const Router& router,
                                              const Authenticator& auth,
                                              std::shared_ptr<spdlog::logger> logger) {
  if (options.max_connections < 1 || options.io_threads < 1 || options.handler_threads < 1) {
    return InvalidArgument("max_connections, io_threads and handler_threads must be at least 1",
                           "fix [mesh.control] in the config");
  }
  auto impl = std::make_unique<Impl>(std::move(options), router, auth, std::move(logger));
  POPULI_RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::url() const {
  std::string host = ParseBind(impl_->options_.bind).ok() ? ParseBind(impl_->options_.bind)->host
                                                          : std::string("127.0.0.1");
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(impl_->tls_ ? "https://" : "http://") + host + ":" +
         std::to_string(impl_->port_);
}

int Server::port() const {
  return impl_->port_;
}
Notifier& Server::notifier() {
  return impl_->notifier_;
}
void Server::Stop() {
  impl_->Stop();
}
void Server::Wait() {
  impl_->Wait();
}

}  // namespace populi::http
