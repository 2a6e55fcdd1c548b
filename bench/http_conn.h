// A minimal keep-alive HTTP/1.1 client connection for load generators (POST with a JSON body,
// Content-Length responses only). Benchmarks only: no TLS, no chunked bodies, no retries.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>

namespace populi::bench {

class Conn {
 public:
  explicit Conn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fd_ = -1;
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
    std::string req = "POST " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: " +
                      std::to_string(json.size()) + "\r\n\r\n" + json;
    if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return 0;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill()) return 0;
    const int status = std::atoi(buf_.c_str() + 9);
    size_t length = 0;
    std::string head = buf_.substr(0, head_end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (size_t p = head.find("content-length:"); p != std::string::npos)
      length = std::strtoul(head.c_str() + p + 15, nullptr, 10);
    while (buf_.size() < head_end + 4 + length)
      if (!Fill()) return 0;
    *body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    return status;
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
  std::string buf_;
};

}  // namespace populi::bench
