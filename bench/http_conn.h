// A minimal keep-alive HTTP/1.1 client connection for load generators (POST with a JSON body,
// Content-Length responses only). Benchmarks only: no TLS, no chunked bodies, no retries, no
// name resolution (an IPv4 address, 127.0.0.1 by default).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>
#include <utility>

namespace populi::bench {

// Where a server listens: an IPv4 address and a port.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 0;
};

// "http://HOST:PORT" (a trailing path is ignored) as an endpoint; port 0 when it is not one.
inline Endpoint ParseHttpUrl(std::string url) {
  Endpoint e;
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) == 0) url.erase(0, scheme.size());
  if (size_t slash = url.find('/'); slash != std::string::npos) url.erase(slash);
  const size_t colon = url.rfind(':');
  if (colon == std::string::npos) return e;
  e.host = url.substr(0, colon);
  e.port = std::atoi(url.c_str() + colon + 1);
  return e;
}

class Conn {
 public:
  explicit Conn(int port) : Conn(Endpoint{"127.0.0.1", port}) {}
  // `headers`: extra request header lines, each ending in "\r\n" (e.g. an Authorization line).
  explicit Conn(const Endpoint& to, std::string headers = {}) : headers_(std::move(headers)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(to.port));
    if (inet_pton(AF_INET, to.host.c_str(), &a.sin_addr) != 1 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Conn() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  int Post(const std::string& path, const std::string& json) {
    std::string ignored;
    return Post(path, json, &ignored);
  }
  // Returns the status (0 on a broken connection) and fills `body`.
  int Post(const std::string& path, const std::string& json, std::string* body) {
    const std::string req = PostRequest(path, json, headers_);
    if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return 0;
    int status = 0;
    while (!TakeResponse(&buf_, &status, body))
      if (!Fill()) return 0;
    return status;
  }

  int fd() const { return fd_; }
  const std::string& headers() const { return headers_; }

  // The bytes of a POST of `json` to `path`, with `headers` (lines ending in "\r\n") added.
  static std::string PostRequest(const std::string& path, const std::string& json,
                                 const std::string& headers = {}) {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           headers + "Content-Length: " + std::to_string(json.size()) + "\r\n\r\n" + json;
  }

  // Moves one complete response (Content-Length framed) from the front of `buffer` into status
  // and body; false while the response is still incomplete.
  static bool TakeResponse(std::string* buffer, int* status, std::string* body) {
    const size_t head_end = buffer->find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    std::string head = buffer->substr(0, head_end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t length = 0;
    if (size_t p = head.find("content-length:"); p != std::string::npos)
      length = std::strtoul(head.c_str() + p + 15, nullptr, 10);
    if (buffer->size() < head_end + 4 + length) return false;
    *status = std::atoi(buffer->c_str() + 9);
    *body = buffer->substr(head_end + 4, length);
    buffer->erase(0, head_end + 4 + length);
    return true;
  }

 private:
  bool Fill() {
    char tmp[16384];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string headers_;
  std::string buf_;
};

}  // namespace populi::bench
