#include "agent/engine_load.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "client/http_client.h"
#include "mesh/json.h"
#include "util/clock.h"

namespace populi::agent {
namespace {

constexpr size_t kMaxSlotsJsonDepth = 32;
constexpr char kSlotsHint[] = "expected llama-server's GET /slots: an array of slot objects";

// A sample line's metric name, and its value (labels skipped); false for anything else.
bool ReadSample(std::string_view line, std::string_view& name, double& value) {
  const size_t name_end = line.find_first_of("{ \t");
  if (name_end == std::string_view::npos || name_end == 0) return false;
  name = line.substr(0, name_end);
  size_t at = name_end;
  if (line[at] == '{') {
    bool quoted = false;
    for (++at; at < line.size(); ++at) {
      const char c = line[at];
      if (quoted && c == '\\') {
        ++at;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == '}') {
        break;
      }
    }
    if (at >= line.size()) return false;
    ++at;
  }
  while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
  const size_t value_end = line.find_first_of(" \t", at);
  const std::string text(
      line.substr(at, value_end == std::string_view::npos ? line.npos : value_end - at));
  if (text.empty()) return false;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(value) && value >= 0;
}

int64_t Count(double v) {
  return std::min<int64_t>(std::llround(v), mesh::kMaxEngineCount);
}

}  // namespace

Result<EngineCounts> ParseLlamaSlots(const boost::json::value& doc) {
  const auto* slots = doc.if_array();
  if (slots == nullptr) return InvalidArgument("GET /slots: not an array", kSlotsHint);
  EngineCounts c;
  c.slots = static_cast<int64_t>(std::min<size_t>(slots->size(), mesh::kMaxEngineCount));
  for (size_t i = 0; i < slots->size(); ++i) {
    const auto* slot = (*slots)[i].if_object();
    const std::string at = "GET /slots[" + std::to_string(i) + "]";
    if (slot == nullptr) return InvalidArgument(at + ": not an object", kSlotsHint);
    if (const auto* p = slot->if_contains("is_processing")) {
      if (!p->is_bool()) return InvalidArgument(at + ".is_processing: not a boolean", kSlotsHint);
      if (p->get_bool()) ++c.busy;
    } else if (const auto* s = slot->if_contains("state")) {
      if (!s->is_int64()) return InvalidArgument(at + ".state: not an integer", kSlotsHint);
      if (s->get_int64() != 0) ++c.busy;
    } else {
      return InvalidArgument(at + ": neither is_processing nor state", kSlotsHint);
    }
  }
  c.busy = std::min(c.busy, mesh::kMaxEngineCount);
  return c;
}

Result<EngineCounts> ParseVllmMetrics(std::string_view text) {
  double running = 0, waiting = 0;
  bool has_running = false, has_waiting = false;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::string_view name;
    double value = 0;
    if (!ReadSample(line, name, value)) continue;
    if (name == "vllm:num_requests_running") {
      running += value;
      has_running = true;
    } else if (name == "vllm:num_requests_waiting") {
      waiting += value;
      has_waiting = true;
    }
  }
  if (!has_running) {
    return NotFound("GET /metrics: no vllm:num_requests_running sample",
                    "a vLLM server exports it on /metrics");
  }
  EngineCounts c;
  c.busy = Count(running);
  if (has_waiting) c.waiting = Count(waiting);
  return c;
}

struct EngineLoadProbe::Endpoint {
  enum class Kind { kUnknown, kSlots, kMetrics, kNone };

  EngineEndpoint where;
  client::HttpClient http;
  Kind kind = Kind::kUnknown;
  int skip = 0;  // kNone: rounds left before asking again

  explicit Endpoint(EngineEndpoint ep) : where(std::move(ep)), http(where.origin) {}

  Result<EngineCounts> Slots(int timeout_ms) {
    auto r = http.SendRaw("GET", where.prefix + "/slots", {}, {}, timeout_ms);
    if (!r.ok()) return r.status();
    if (r->status != 200)
      return FailedPrecondition("GET /slots answered HTTP " + std::to_string(r->status), "");
    auto doc = mesh::ParseJson(r->body, kMaxSlotsJsonDepth);
    if (!doc.ok()) return doc.status();
    return ParseLlamaSlots(*doc);
  }
  Result<EngineCounts> Metrics(int timeout_ms) {
    auto r = http.SendRaw("GET", where.prefix + "/metrics", {}, {}, timeout_ms);
    if (!r.ok()) return r.status();
    if (r->status != 200)
      return FailedPrecondition("GET /metrics answered HTTP " + std::to_string(r->status), "");
    return ParseVllmMetrics(r->body);
  }

  // This round's counts; nullopt when the endpoint gives none now.
  std::optional<EngineCounts> Read(int timeout_ms) {
    if (kind == Kind::kNone && --skip > 0) return std::nullopt;
    if (kind == Kind::kSlots || kind == Kind::kMetrics) {
      auto c = kind == Kind::kSlots ? Slots(timeout_ms) : Metrics(timeout_ms);
      if (c.ok()) return *c;
      kind = Kind::kUnknown;  // another engine may answer there next round
      return std::nullopt;
    }
    if (auto c = Slots(timeout_ms); c.ok()) {
      kind = Kind::kSlots;
      return *c;
    }
    if (auto c = Metrics(timeout_ms); c.ok()) {
      kind = Kind::kMetrics;
      return *c;
    }
    kind = Kind::kNone;
    skip = kEngineLoadRecheckRounds;
    return std::nullopt;
  }
};

EngineLoadProbe::EngineLoadProbe(std::vector<EngineEndpoint> endpoints, int timeout_ms)
    : timeout_ms_(timeout_ms) {
  for (auto& ep : endpoints) endpoints_.push_back(std::make_unique<Endpoint>(std::move(ep)));
}

EngineLoadProbe::~EngineLoadProbe() = default;

std::vector<mesh::EngineLoad> EngineLoadProbe::Probe(int64_t now_ms) {
  std::vector<mesh::EngineLoad> out;
  for (auto& ep : endpoints_) {
    auto c = ep->Read(timeout_ms_);
    if (!c) continue;
    out.push_back({ep->where.url, c->busy, c->waiting, c->slots, now_ms});
    if (out.size() == mesh::kMaxEngineLoads) break;
  }
  return out;
}

EngineLoadMonitor::EngineLoadMonitor(std::vector<EngineEndpoint> endpoints, int64_t interval_ms)
    : probe_(std::move(endpoints),
             static_cast<int>(std::clamp<int64_t>(interval_ms / 2, 100, 2'000))),
      interval_ms_(interval_ms) {}

EngineLoadMonitor::~EngineLoadMonitor() {
  Stop();
}

void EngineLoadMonitor::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EngineLoadMonitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<mesh::EngineLoad> EngineLoadMonitor::Latest() const {
  const int64_t now = SystemClock::Instance().NowMs();
  std::lock_guard lock(mu_);
  if (now - latest_ms_ > 2 * interval_ms_) return {};
  return latest_;
}

void EngineLoadMonitor::Loop() {
  for (;;) {
    const int64_t now = SystemClock::Instance().NowMs();
    std::vector<mesh::EngineLoad> round = probe_.Probe(now);
    std::unique_lock lock(mu_);
    latest_ = std::move(round);
    latest_ms_ = now;
    if (cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stopping_; }))
      return;
  }
}

}  // namespace populi::agent
