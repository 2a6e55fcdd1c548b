// The models a node's local inference engines list ([mesh.inference] endpoints; docs/models.md,
// "Engines"): any OpenAI-compatible server — llama.cpp's llama-server, vLLM, Ollama — answers
// GET {endpoint}/v1/models. Each model becomes an inventory entry of source `engine` with the
// endpoint, `loaded` (true, or Ollama's GET /api/ps answer for Ollama), and what the server says
// of context length and size (vLLM `max_model_len`, llama-server `meta`).
//
// An endpoint that does not answer, or answers something that is not such a list, is a problem
// of source `engine` in the inventory; the other sources and endpoints are listed as usual.
// Requests go through the project's client (client::HttpClient), one keep-alive connection per
// endpoint, with a short deadline.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mesh/models.h"
#include "util/status.h"

namespace populi::agent {

// An endpoint as configured: "http(s)://host[:port]" with an optional path prefix
// ("http://gpu-box/llm"); a trailing "/" or "/v1" (how OpenAI clients spell a base URL) is
// dropped. kInvalidArgument naming the value otherwise.
struct EngineEndpoint {
  std::string url;     // as entries show it: origin + prefix
  std::string origin;  // scheme://authority
  std::string prefix;  // "" or "/llm"
};
Result<EngineEndpoint> ParseEngineEndpoint(const std::string& text);

class EngineSource {
 public:
  explicit EngineSource(std::vector<EngineEndpoint> endpoints, int timeout_ms = 5'000);
  ~EngineSource();
  EngineSource(const EngineSource&) = delete;
  EngineSource& operator=(const EngineSource&) = delete;

  size_t endpoints() const { return endpoints_.size(); }
  // Adds every endpoint's models to `inv` (entries, kept sorted by id, each id once) and a
  // problem for each endpoint that failed. Returns how many failed.
  int Scan(mesh::ModelInventory& inv);

 private:
  struct Endpoint;
  void ScanOne(Endpoint& ep, std::vector<mesh::ModelEntry>& entries,
               std::vector<mesh::ModelScanProblem>& problems, bool& failed);

  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  int timeout_ms_;
};

// An engine's model as an inventory entry: id "<model>@<endpoint url>", name the engine's own id.
std::string EngineModelId(const std::string& model, const std::string& endpoint_url);

}  // namespace populi::agent
