// The control plane a2a_load starts in its own process when it is given no --url: the plane and
// its HTTP server on 127.0.0.1:0 over a SQLite store in a temporary directory, set up as
// `vox populi serve` runs them (spans kept in memory, per-request metrics, one request log line
// per request, written to a file in that directory).
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "control/control_plane.h"
#include "control/http/auth.h"
#include "control/http/server.h"
#include "obs/span_store.h"
#include "store/sqlite.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::bench {

struct PlaneOptions {
  std::string durability = "full";  // the SQLite store's: full | buffered
  int handler_threads = 0;          // 0: a handler thread per client (at least 64)
  bool tracing = true;              // as `vox populi serve` runs by default
  bool metrics = true;
  size_t span_retention = 50'000;  // serve's default
};

class InProcessPlane {
 public:
  InProcessPlane() = default;
  InProcessPlane(const InProcessPlane&) = delete;
  InProcessPlane& operator=(const InProcessPlane&) = delete;
  ~InProcessPlane() {
    if (server_) server_->Stop();
    if (plane_) plane_->Stop();
    if (store_) (void)store_->Close();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Opens the store, starts the plane and the server sized for `clients` connections; the port.
  Result<int> Start(const PlaneOptions& o, int clients) {
    dir_ = std::filesystem::temp_directory_path() / ("a2a-load-" + RandomHex(6));
    store::SqliteOptions so;
    so.directory = dir_.string();
    so.durability =
        o.durability == "buffered" ? store::Durability::kBuffered : store::Durability::kFull;
    POPULI_ASSIGN_OR_RETURN(store_, store::OpenSqliteStore(so));
    control::ControlOptions co;
    co.inbox_cap = 1'000'000;
    // Spans as serve keeps them (in memory, the default retention), or none with --tracing off.
    spans_ = std::make_unique<obs::SpanStore>(o.span_retention);
    plane_ = std::make_unique<control::ControlPlane>(*store_, co, SystemClock::Instance());
    if (o.tracing) plane_->SetSpanStore(spans_.get());
    plane_->RegisterRoutes(router_);
    auth_ = http::Authenticator::Open();
    http::ServerOptions sopt;
    sopt.bind = "127.0.0.1:0";
    // Default: a handler thread per client, so blocking handlers never limit the writes in flight.
    sopt.handler_threads = o.handler_threads > 0 ? o.handler_threads : std::max(64, clients);
    sopt.max_connections = clients + 16;
    if (o.tracing) sopt.spans = spans_.get();
    // Per-request metrics as serve records them (the store's and the plane's own counters are
    // always on).
    control::ControlPlane* plane = plane_.get();
    if (o.metrics) {
      sopt.on_request_done = [plane](const http::RequestRecord& r) { plane->ObserveRequest(r); };
    }
    // One log line per request, written to a file as a deployed server's are (stdout would make
    // the terminal, or whatever reads the pipe, part of the measurement).
    auto request_log = spdlog::basic_logger_mt("a2a-load", (dir_ / "requests.log").string());
    POPULI_ASSIGN_OR_RETURN(server_, http::Server::Start(sopt, router_, *auth_, request_log));
    plane_->SetNotifier(&server_->notifier());
    return server_->port();
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<store::MeshStore> store_;
  std::unique_ptr<obs::SpanStore> spans_;
  std::unique_ptr<control::ControlPlane> plane_;
  http::Router router_;
  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace populi::bench
