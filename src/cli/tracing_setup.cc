#include "cli/tracing_setup.h"

#include <boost/url/parse.hpp>

#include "client/http_client.h"

namespace populi::cli {
namespace {

constexpr std::string_view kTracesPath = "/v1/traces";

// "http://host:4318" or "http://host:4318/v1/traces" → the client's base URL.
Result<std::string> CollectorBase(const std::string& endpoint) {
  auto url = boost::urls::parse_absolute_uri(endpoint);
  const std::string hint =
      "set mesh.observability.otlp_endpoint to the collector's OTLP/HTTP URL, e.g. "
      "http://127.0.0.1:4318";
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty() ||
      url->has_query() || url->has_fragment()) {
    return InvalidArgument("otlp_endpoint '" + endpoint + "' is not an http(s)://host:port URL",
                           hint);
  }
  std::string path(url->path());
  if (!path.empty() && path != "/" && path != kTracesPath) {
    return InvalidArgument("otlp_endpoint '" + endpoint + "' has a path other than /v1/traces",
                           hint);
  }
  std::string base = std::string(url->scheme()) + "://" + std::string(url->encoded_host_and_port());
  return base;
}

}  // namespace

Result<Tracing> TracingFrom(const config::Config& cfg, const std::string& version) {
  Tracing t;
  if (!cfg.GetBool("mesh.observability.tracing")) return t;
  const std::string endpoint = cfg.GetString("mesh.observability.otlp_endpoint");
  if (!endpoint.empty()) {
    POPULI_ASSIGN_OR_RETURN(std::string base, CollectorBase(endpoint));
    const int timeout_ms = static_cast<int>(cfg.GetInt("mesh.observability.otlp_timeout_ms"));
    auto client = std::make_shared<client::HttpClient>(base);
    obs::OtlpExporterOptions options;
    options.version = version;
    t.exporter =
        std::make_unique<obs::OtlpExporter>(options, [client, timeout_ms](const std::string& body) {
          return client->Send("POST", std::string(kTracesPath), body, {}, timeout_ms).status();
        });
  }
  t.spans = std::make_unique<obs::SpanStore>(
      static_cast<size_t>(cfg.GetInt("mesh.observability.span_retention")), t.exporter.get());
  return t;
}

}  // namespace populi::cli
