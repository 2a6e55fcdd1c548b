// The session instantiated for TLS connections (the other stream type has a TU of its own, so
// the two heaviest instantiations of the HTTP layer compile side by side).
#include "control/http/session.h"
#include "control/http/session_waits.h"

namespace populi::http {

asio::awaitable<void> ServeConnection(Server::Impl& server,
                                      boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                                      std::string remote) {
  session_detail::Session<boost::beast::ssl_stream<boost::beast::tcp_stream>> session(
      server, stream, std::move(remote));
  co_await session.Serve();
}

}  // namespace populi::http
