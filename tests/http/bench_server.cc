// A control-plane-shaped server with a tiny route set, for bench/http_health.sh. Prints the URL
// on stdout, serves until stdin closes.
// Usage: http_bench_server [--log FILE] [--io-threads N] [--tracing on|off] [--metrics on|off]
// Tracing (default on, as in `vox populi serve`) records each request's server span in memory;
// metrics (default on) count each request and its latency by route, method and status, as the
// control plane's request metrics do.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "control/http/server.h"
#include "obs/metrics.h"
#include "obs/span_store.h"

int main(int argc, char** argv) {
  using namespace populi::http;
  std::string log_file;
  ServerOptions options;
  options.bind = "127.0.0.1:0";
  populi::obs::SpanStore spans(50'000);
  options.spans = &spans;
  bool metrics = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--log") == 0) log_file = argv[i + 1];
    if (std::strcmp(argv[i], "--io-threads") == 0) options.io_threads = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--bind") == 0) options.bind = argv[i + 1];
    if (std::strcmp(argv[i], "--tracing") == 0 && std::strcmp(argv[i + 1], "off") == 0) {
      options.spans = nullptr;
    }
    if (std::strcmp(argv[i], "--metrics") == 0 && std::strcmp(argv[i + 1], "off") == 0) {
      metrics = false;
    }
  }
  std::shared_ptr<spdlog::logger> logger =
      log_file.empty() ? spdlog::null_logger_mt("bench")
                       : spdlog::basic_logger_mt("bench", log_file, /*truncate=*/true);
  Router router;
  Route health;
  health.pattern = "/health";
  health.name = "health";
  health.handler = [](Request&) { return JsonResponse(R"({"status":"ok"})"); };
  health.runs_inline = true;
  health.traced = false;  // as serve's /health
  router.Add(health);
  Route version;
  version.pattern = "/v1/populi/version";
  version.name = "version";
  version.roles = {Role::kReadOnly};
  version.handler = [](Request&) { return JsonResponse(R"({"wire":"1"})"); };
  version.runs_inline = true;
  router.Add(version);
  if (metrics) {
    auto& registry = populi::obs::Registry::Default();
    auto& requests = registry.Counters("populi_http_requests_total", "HTTP requests answered.",
                                       {"route", "method", "status"});
    auto& latency = registry.Histograms(
        "populi_http_request_duration_seconds", "Time to answer.", {"route", "method", "status"},
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    options.on_request_done = [&requests, &latency](const RequestRecord& r) {
      const std::string status = std::to_string(r.status);
      const std::string_view method = ToString(r.method);
      requests.With({r.route, method, status}).Inc();
      latency.With({r.route, method, status}).Observe(r.duration_ms / 1000.0);
    };
  }
  auto auth = Authenticator::Open();
  auto server = Server::Start(options, router, *auth, logger);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", (*server)->url().c_str());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  (*server)->Stop();
  return 0;
}
