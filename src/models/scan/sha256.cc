#include "models/scan/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace populi::models::scan {
namespace {

struct DigestCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using DigestCtx = std::unique_ptr<EVP_MD_CTX, DigestCtxFree>;

std::string HexOf(const unsigned char* digest, unsigned int n) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out += kHexDigits[digest[i] >> 4];
    out += kHexDigits[digest[i] & 15];
  }
  return out;
}

DigestCtx NewSha256() {
  DigestCtx ctx(EVP_MD_CTX_new());
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

std::string FinishHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &n) != 1) return {};
  return HexOf(digest, n);
}

}  // namespace

Result<std::string> Sha256OfFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FailedPrecondition(path + ": cannot open: " + std::strerror(errno),
                              "check the file's permissions");
  DigestCtx ctx = NewSha256();
  if (!ctx) {
    ::close(fd);
    return Internal("SHA-256 is not available from OpenSSL", "check the OpenSSL installation");
  }
  std::vector<unsigned char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return FailedPrecondition(path + ": read failed: " + std::strerror(err),
                                "check the disk and the file");
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return FinishHex(ctx.get());
}

std::string Sha256OfBytes(std::string_view bytes) {
  DigestCtx ctx = NewSha256();
  if (!ctx) return {};
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  return FinishHex(ctx.get());
}

}  // namespace populi::models::scan
