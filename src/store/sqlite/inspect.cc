// InspectSqliteStore (store/sqlite.h): lock holder, size, schema version and the check, read-only.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "store/sqlite.h"
#include "store/sqlite/check.h"
#include "store/sqlite/db.h"
#include "store/sqlite/schema.h"

namespace populi::store {
namespace {

// The pid in a held store lock, or -1 when nobody holds it. A shared lock is taken and dropped
// at once, so a running serve's exclusive lock is never disturbed.
long LockHolderPid(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kSqliteLockFileName).string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long pid = -1;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char buffer[32] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    pid = n > 0 ? std::strtol(buffer, nullptr, 10) : 0;
  }
  ::close(fd);  // drops the shared lock when it was taken
  return pid;
}

}  // namespace

Result<SqliteInspection> InspectSqliteStore(const std::string& directory) {
  SqliteInspection out;
  out.database_path = SqliteDatabasePath(directory);
  std::error_code ec;
  out.exists = std::filesystem::exists(out.database_path, ec);
  if (!out.exists) return out;
  out.size_bytes = std::filesystem::file_size(out.database_path, ec);
  if (ec) out.size_bytes = 0;
  const uint64_t wal = std::filesystem::file_size(out.database_path + "-wal", ec);
  if (!ec) out.size_bytes += wal;
  out.holder_pid = LockHolderPid(directory);
  POPULI_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(out.database_path, /*create=*/false,
                                                    /*read_only=*/true, /*busy_timeout_ms=*/2'000));
  if (out.holder_pid >= 0) {
    auto version = sqlite::ReadSchemaVersion(*db);
    if (version.ok()) out.schema_version = *version;
    return out;
  }
  POPULI_ASSIGN_OR_RETURN(CheckReport checked, sqlite::RunCheck(*db));
  out.schema_version = checked.schema_version;
  out.check = std::move(checked);
  return out;
}

}  // namespace populi::store
