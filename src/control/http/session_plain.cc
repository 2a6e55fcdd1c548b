// The accept loop's per-connection coroutine (TLS handshake when configured, then the session),
// and the session instantiated for plain TCP connections. The TLS instantiation has a TU of its
// own (session_tls.cc), so the two heaviest instantiations of the HTTP layer compile side by side.
#include "control/http/session.h"
#include "control/http/session_waits.h"

namespace populi::http {
namespace {

namespace beast = boost::beast;
using asio::ip::tcp;

class ConnectionCount {
 public:
  explicit ConnectionCount(std::atomic<int>& count) : count_(count) {}
  ~ConnectionCount() { --count_; }

 private:
  std::atomic<int>& count_;
};

}  // namespace

asio::awaitable<void> Server::Impl::RunSession(tcp::socket socket) {
  ConnectionCount counted(connections_);  // incremented by the accept loop
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  std::string remote = ec ? "?" : peer.address().to_string() + ":" + std::to_string(peer.port());
  socket.set_option(tcp::no_delay(true), ec);
  try {
    if (tls_) {
      beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls_);
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::milliseconds(options_.header_timeout_ms));
      co_await stream.async_handshake(asio::ssl::stream_base::server,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      co_await ServeConnection(*this, stream, remote);
    } else {
      beast::tcp_stream stream(std::move(socket));
      co_await ServeConnection(*this, stream, remote);
    }
  } catch (const std::exception& e) {
    logger_->error("http connection from {} failed: {}", remote, e.what());
  }
}

asio::awaitable<void> ServeConnection(Server::Impl& server, boost::beast::tcp_stream& stream,
                                      std::string remote) {
  session_detail::Session<boost::beast::tcp_stream> session(server, stream, std::move(remote));
  co_await session.Serve();
}

}  // namespace populi::http
