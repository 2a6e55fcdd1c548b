// A child process for the store tests.
//   store_test_helper write DIR   writes continuously from 4 threads; prints each acknowledged
//                                 message id on stdout, one per line, after Write() returned ok.
//   store_test_helper hold DIR    opens the store, prints "ready", and holds it until killed.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite.h"

namespace {

using populi::Status;
using populi::store::WriteTxn;

void WriteLine(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> guard(mu);
  const std::string text = line + "\n";
  if (::write(STDOUT_FILENO, text.data(), text.size()) < 0) std::_Exit(3);
}

int Write(populi::store::MeshStore& store) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      const std::string pid = std::to_string(::getpid());
      for (int64_t i = 1;; ++i) {
        populi::mesh::NewMessage m;
        m.sender = "crash-" + pid;
        m.receiver = "r" + std::to_string(t);
        m.message_type = "job_submit";
        m.payload = std::string(200, 'x');
        m.idempotency_key = pid + "-" + std::to_string(t) + "-" + std::to_string(i);
        int64_t id = 0;
        Status status = store.Write([&](WriteTxn& txn) -> Status {
          POPULI_ASSIGN_OR_RETURN(auto delivered, txn.Deliver(m, i));
          id = delivered.message_id;
          if (i % 4 == 0) {
            // Churn leases too, so the fencing invariants are exercised across crashes.
            const std::string holder = "h" + std::to_string(i % 3);
            POPULI_ASSIGN_OR_RETURN(
                auto lease, txn.GrantLease("scope:" + std::to_string(t), holder, 1'000'000, i));
            POPULI_RETURN_IF_ERROR(txn.ReleaseLease(lease.lease_id, holder, i).status());
          }
          return Status::Ok();
        });
        if (!status.ok()) {
          std::fprintf(stderr, "write failed: %s\n", status.ToString().c_str());
          std::_Exit(2);
        }
        WriteLine(std::to_string(id));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_test_helper write|hold DIR\n");
    return 2;
  }
  populi::store::SqliteOptions options;
  options.directory = argv[2];
  auto store = populi::store::OpenSqliteStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  if (std::strcmp(argv[1], "write") == 0) return Write(**store);
  WriteLine("ready");
  char c;
  while (::read(STDIN_FILENO, &c, 1) > 0) {
  }
  return 0;
}
