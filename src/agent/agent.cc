#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "agent/keyring.h"
#include "client/control_plane_api.h"
#include "crypto/secret.h"
#include "mesh/json.h"
#include "mesh/pairing.h"
#include "util/clock.h"

namespace populi::agent {

std::map<std::string, std::string> ParseLabels(const std::vector<std::string>& items) {
  std::map<std::string, std::string> labels;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      labels[item] = "";
    } else {
      labels[item.substr(0, eq)] = item.substr(eq + 1);
    }
  }
  return labels;
}

Agent::Agent(AgentOptions options, NodeIdentity identity, probe::ProbeCache& cache,
             std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      identity_(std::move(identity)),
      cache_(cache),
      logger_(logger ? std::move(logger) : spdlog::default_logger()),
      api_(std::make_unique<client::ControlPlaneApi>(options_.control_url, options_.token)),
      backoff_(options_.backoff_base_ms, options_.backoff_cap_ms,
               static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                   static_cast<uint64_t>(::getpid())),
      heartbeat_ms_(options_.heartbeat_ms) {
  api_->http().set_node_id(identity_.node_id);
  if (!options_.tls_ca_file.empty()) api_->http().set_tls_ca_file(options_.tls_ca_file);
  api_->set_default_timeout_ms(options_.request_timeout_ms);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  record_.id = identity_.node_id;
  record_.version = options_.version;
  record_.scope_id = options_.scope_id;
  record_.ed25519_pub_key_b64 = identity_.public_key_b64();
  record_.host = host;
}

Agent::~Agent() {
  Stop(false);
}

void Agent::Start() {
  loop_ = std::thread([this] { Loop(); });
  prober_ = std::thread([this] { ProbeLoop(); });
}

void Agent::Stop(bool leave) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !loop_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (prober_.joinable()) prober_.join();
  if (leave && stats().joined) Leave();
}

void Agent::SetRunningTasks(std::vector<probe::TaskReservation> running) {
  std::lock_guard lock(mu_);
  running_ = std::move(running);
  record_dirty_ = true;
  cv_.notify_all();
}

bool Agent::WaitJoined(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [this] { return stats_.joined || stopping_; });
  return stats_.joined;
}

AgentStats Agent::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

mesh::NodeRecord Agent::record() const {
  std::lock_guard lock(mu_);
  return record_;
}

bool Agent::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

namespace {

// A file's modification time in ns since the Unix epoch; 0 when it does not exist.
int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

bool Agent::RefreshKeyState() {
  if (options_.data_dir.empty()) return false;
  bool changed = false;
  const int64_t keys_ns = MtimeNs(EncryptionKeysPath(options_.data_dir));
  if (keys_ns == 0 || keys_ns != keys_seen_ns_) {
    auto keys = LoadOrCreateEncryptionKeys(options_.data_dir, SystemClock::Instance().NowMs());
    if (keys.ok()) {
      const std::string pub =
          crypto::Base64(keys->current.public_key.data(), keys->current.public_key.size());
      crypto::WipeSecret(keys->current);
      if (keys->previous) crypto::WipeSecret(*keys->previous);
      std::lock_guard lock(mu_);
      if (record_.x25519_pub_key_b64 != pub) {
        record_.x25519_pub_key_b64 = pub;
        record_.x25519_key_created_ms = keys->created_ms;
        record_.x25519_key_sig_b64 = crypto::SignBase64(
            identity_.keys, mesh::X25519KeyStatement(record_.id, pub, keys->created_ms));
        changed = true;
      }
      keys_seen_ns_ = MtimeNs(EncryptionKeysPath(options_.data_dir));
    } else {
      logger_->warn("encryption keys: {}", keys.status().message());
      keys_seen_ns_ = keys_ns;
    }
  }
  const int64_t pairings_ns = MtimeNs(PairingsPath(options_.data_dir));
  if (pairings_ns != pairings_seen_ns_) {
    auto peers = LoadPeers(options_.data_dir, options_.declared_peers);
    if (!peers.ok()) {
      logger_->warn("pairings: {}", peers.status().message());
    } else {
      std::vector<std::string> ids;
      for (const auto& p : *peers) ids.push_back(p.node_id);
      std::lock_guard lock(mu_);
      if (ids != record_.paired_with || pairings_seen_ns_ < 0) {
        record_.paired_with = std::move(ids);
        record_.pairings_updated_ms = pairings_ns / 1'000'000;
        changed = true;
      }
    }
    pairings_seen_ns_ = pairings_ns;
  }
  return changed;
}

bool Agent::RebuildRecord() {
  const bool keys_changed = RefreshKeyState();
  auto report = cache_.Peek();
  std::lock_guard lock(mu_);
  if (keys_changed) record_dirty_ = true;
  const int64_t cycle = cache_.cycles();
  if (!record_dirty_ && cycle == record_cycle_) return false;
  record_dirty_ = false;
  record_cycle_ = cycle;
  record_.labels = options_.labels;
  record_.donation = options_.donation;
  for (const auto& [k, v] : options_.hints.labels) record_.labels[k] = v;
  record_.running_tasks.clear();
  for (const auto& r : running_) record_.running_tasks.push_back(r.task_id);
  if (report) {
    cache_.FillNodeHardware(&record_);
    probe::ApplyCapacity(
        probe::ComputeCapacity(*report, running_, options_.reserve, options_.hints), options_.hints,
        &record_);
  }
  return true;
}

void Agent::RecordFailure(const char* what, const Status& status) {
  int64_t delay = 0;
  int failures = 0;
  {
    std::lock_guard lock(mu_);
    delay = backoff_.NextDelayMs();
    ++stats_.failures;
    stats_.consecutive_failures = backoff_.failures();
    stats_.last_delay_ms = delay;
    failures = stats_.consecutive_failures;
  }
  logger_->info("{} to {} failed ({}: {}); try {} in {} ms", what, options_.control_url,
                CodeName(status.code()), status.message(), failures + 1, delay);
  Sleep(delay);
}

Status Agent::Join() {
  mesh::NodeRecord record;
  {
    std::lock_guard lock(mu_);
    record = record_;
  }
  POPULI_ASSIGN_OR_RETURN(mesh::JoinReply reply, api_->Join(record));
  if (reply.heartbeat_ms > 0) heartbeat_ms_ = reply.heartbeat_ms;
  if (reply.down_after_ms > 0) {
    std::lock_guard lock(mu_);
    backoff_.LowerCap(reply.down_after_ms / 2);
  }
  return Status::Ok();
}

Status Agent::Heartbeat() {
  mesh::HeartbeatRequest beat{identity_.node_id, options_.scope_id, {}};
  if (options_.engine_load) beat.engine_load = options_.engine_load();
  return api_->Heartbeat(beat).status();
}

void Agent::Leave() {
  Status s = api_->Leave({identity_.node_id}, {.timeout_ms = 2'000});
  if (s.ok()) {
    logger_->info("left the mesh at {}", options_.control_url);
  } else {
    logger_->info("leave to {} failed ({}); the control plane will mark {} down",
                  options_.control_url, s.message(), identity_.node_id);
  }
}

void Agent::Loop() {
  // The first record waits for the first probe so the control plane never sees "0 GPUs" from a
  // node that simply has not probed yet.
  if (!cache_.Peek()) {
    if (auto report = cache_.Get()) probe::LogSummary(*report, *logger_);
  }
  bool joined = false;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const bool changed = RebuildRecord();
    if (!joined || changed) {
      Status s = Join();
      if (!s.ok()) {
        RecordFailure("join", s);
        continue;
      }
      joined = true;
      std::lock_guard lock(mu_);
      backoff_.Reset();
      ++stats_.joins;
      stats_.joined = true;
      stats_.consecutive_failures = 0;
      cv_.notify_all();  // WaitJoined
      if (stats_.joins == 1) {
        logger_->info("joined {} as {} (heartbeat every {} ms)", options_.control_url,
                      identity_.node_id, heartbeat_ms_);
      }
    } else {
      Status s = Heartbeat();
      if (s.code() == Code::kNotFound) {
        logger_->info("control plane {} does not know {}; joining again", options_.control_url,
                      identity_.node_id);
        joined = false;
        continue;
      }
      if (!s.ok()) {
        RecordFailure("heartbeat", s);
        continue;
      }
      std::lock_guard lock(mu_);
      if (stats_.consecutive_failures > 0) {
        logger_->info("control plane {} reachable again after {} failed tries",
                      options_.control_url, stats_.consecutive_failures);
      }
      backoff_.Reset();
      ++stats_.heartbeats_ok;
      stats_.consecutive_failures = 0;
    }
    if (!Sleep(heartbeat_ms_)) return;
  }
}

void Agent::ProbeLoop() {
  while (Sleep(1'000)) {
    if (cache_.Expired()) {
      cache_.Refresh();
      cv_.notify_all();
    }
  }
}

}  // namespace populi::agent
