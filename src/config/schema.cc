// The configuration schema: one row per key. Docs, validation and env names come from here.
#include <cctype>
#include <deque>
#include <string>

#include "config/config.h"

namespace populi::config {
namespace {

constexpr int64_t kDay = 86400;

struct Row {
  std::string_view key, doc, default_value;
  Type type;
  bool secret = false;
  int64_t min = INT64_MIN, max = INT64_MAX;
  std::string_view allowed = {};
};

// Documentation order. Keep docs to one line; docs/config.md is generated from this table.
const Row kRows[] = {
    {"mesh.enabled", "Take part in the mesh; false turns the node agent off for this workspace",
     "true", Type::kBool},
    {"mesh.node_id", "Stable node id; empty derives one from the node key in the data dir", "",
     Type::kString},
    {"mesh.scope_id", "Mesh scope this node belongs to; nodes only see peers in the same scope", "",
     Type::kString},
    {"mesh.labels", "Node labels as \"key=value\" items, matched by routing labels", "",
     Type::kStringList},
    {"mesh.token", "Bearer token this node presents to the control plane (its mesh role)", "",
     Type::kString, true},
    {"mesh.auth.admin_token", "Control-plane token granting the admin role", "", Type::kString,
     true},
    {"mesh.auth.worker_token", "Control-plane token granting the worker role", "", Type::kString,
     true},
    {"mesh.auth.submitter_token", "Control-plane token granting the submitter role", "",
     Type::kString, true},
    {"mesh.auth.read_only_token", "Control-plane token granting read-only access", "",
     Type::kString, true},
    {"mesh.auth.jwt_hmac_secret", "HMAC secret for signed (JWT) bearer tokens; empty disables them",
     "", Type::kString, true},
    {"mesh.control.bind", "Address the control plane listens on (host:port)", "127.0.0.1:9847",
     Type::kString},
    {"mesh.control.url",
     "Control plane URL clients and agents use, or several replicas' URLs separated by commas "
     "(calls move to the next when one stops answering); empty: the URL a local serve wrote",
     "", Type::kString},
    {"mesh.control.heartbeat_secs", "Seconds between agent heartbeats", "2", Type::kInt, false, 1,
     3600},
    {"mesh.control.suspect_after", "Missed heartbeats before a node is suspect", "3", Type::kInt,
     false, 1, 1000},
    {"mesh.control.down_after", "Missed heartbeats before a node is down and its leases expire",
     "5", Type::kInt, false, 1, 1000},
    {"mesh.control.exec_lease_ttl_secs", "Lifetime of an exec lease without renewal", "15",
     Type::kInt, false, 1, 3600},
    {"mesh.control.a2a_claim_ttl_secs", "Seconds a claimed message stays hidden before redelivery",
     "120", Type::kInt, false, 1, kDay},
    {"mesh.control.a2a_max_deliveries", "Deliveries before a message moves to the dead letters",
     "10", Type::kInt, false, 1, 1000},
    {"mesh.control.inbox_cap", "Undelivered messages an inbox holds before sends are refused",
     "50000", Type::kInt, false, 1, 10'000'000},
    {"mesh.control.connection_drop_grace_ms",
     "How long a node whose agent's connection dropped stays suspect before it is down", "2000",
     Type::kInt, false, 100, 60'000},
    {"mesh.control.sweeper_role_ttl_ms",
     "How long the sweeper role outlives its holder's last renewal before another replica on the "
     "store takes it over",
     "5000", Type::kInt, false, 500, 600'000},
    {"mesh.control.long_poll_max_ms", "Longest a long-poll request waits before returning empty",
     "30000", Type::kInt, false, 0, 300'000},
    {"mesh.control.http.max_body_bytes", "Largest accepted request body", "524288", Type::kBytes,
     false, 1024, int64_t{1} << 30},
    {"mesh.control.http.header_timeout_ms", "Time allowed to receive request headers", "10000",
     Type::kInt, false, 100, 600'000},
    {"mesh.control.http.body_timeout_ms", "Time allowed to receive a request body", "30000",
     Type::kInt, false, 100, 600'000},
    {"mesh.control.http.idle_timeout_ms", "Idle keep-alive connections close after this", "60000",
     Type::kInt, false, 100, 3'600'000},
    {"mesh.control.http.max_connections", "Open connections before new ones are refused", "1024",
     Type::kInt, false, 1, 65536},
    {"mesh.control.http.handler_threads", "Threads that run request handlers", "64", Type::kInt,
     false, 1, 1024},
    {"mesh.control.http.rate_per_sec", "Sustained requests per second per client; 0 = unlimited",
     "200", Type::kInt, false, 0, 1'000'000},
    {"mesh.control.http.rate_burst", "Requests a client may burst above the sustained rate", "400",
     Type::kInt, false, 0, 1'000'000},
    {"mesh.store.backend",
     "Durable store behind the control plane: sqlite (embedded, in the data directory) or "
     "postgres (mesh.store.dsn)",
     "sqlite", Type::kString, false, INT64_MIN, INT64_MAX, "sqlite|postgres"},
    {"mesh.store.dsn",
     "PostgreSQL connection string (libpq key=value or postgresql:// URL) for backend = postgres",
     "", Type::kString, true},
    {"mesh.store.schema",
     "PostgreSQL schema holding the store's tables (created when missing); replicas share one",
     "populi", Type::kString},
    {"mesh.store.path", "Data directory (store, control-url, node key); empty: <VOX_HOME>/populi",
     "", Type::kString},
    {"mesh.store.durability",
     "full: a write is acknowledged only once the log holding it is flushed (fdatasync); buffered: "
     "faster, may lose the last commits on power loss",
     "full", Type::kString, false, INT64_MIN, INT64_MAX, "full|buffered"},
    {"mesh.store.retention", "How long finished work, events and dead letters are kept", "7d",
     Type::kDurationSecs, false, 60, 3650 * kDay},
    {"mesh.store.standby_lag_warn",
     "Replay lag past which `vox doctor` warns when the PostgreSQL server is a standby", "30s",
     Type::kDurationSecs, false, 1, kDay},
    {"mesh.probe.order", "Hardware probes to run, in order", "hwloc,nvml,linux_drm,vulkan",
     Type::kStringList, false, INT64_MIN, INT64_MAX, "hwloc|nvml|linux_drm|vulkan|mock"},
    {"mesh.probe.mock_fixture",
     "JSON inventory the mock probe reports (tests and demos; used when probe.order has mock)", "",
     Type::kString},
    {"mesh.probe.cache_ttl_secs", "Seconds a hardware probe result is reused", "300", Type::kInt,
     false, 0, kDay},
    {"mesh.policy.exec", "strict: run only allowed_commands; permissive: run any submitted command",
     "strict", Type::kString, false, INT64_MIN, INT64_MAX, "strict|permissive"},
    {"mesh.policy.allowed_commands", "Programs a strict node runs (basename or absolute path)", "",
     Type::kStringList},
    {"mesh.policy.sandbox", "Sandbox for executed work: none or bwrap (bubblewrap)", "none",
     Type::kString, false, INT64_MIN, INT64_MAX, "none|bwrap"},
    {"mesh.policy.max_key_age",
     "Encryption keys older than this are flagged by doctor (rotate: vox populi pair --rotate)",
     "90d", Type::kDurationSecs, false, 60, 3650 * kDay},
    {"mesh.peers.declared",
     "Paired nodes declared here instead of by vox populi pair: NODE_ID:ED25519_KEY:X25519_KEY "
     "(standard base64 public keys, as in the node's record)",
     "", Type::kStringList},
    {"mesh.secrets.wait",
     "How long a task's node waits for the submitter to hand over the task's secrets", "30s",
     Type::kDurationSecs, false, 1, kDay},
    {"mesh.secrets.rotation_grace",
     "How long envelopes sealed to this node's previous key still open after a rotation", "1h",
     Type::kDurationSecs, false, 0, 30 * kDay},
    {"mesh.donation.enabled", "Accept work submitted by other nodes", "true", Type::kBool},
    {"mesh.donation.accepted_kinds", "Task kinds this node accepts; empty: every kind", "",
     Type::kStringList},
    {"mesh.donation.min_priority", "Lowest priority (0-255) of work accepted from others", "0",
     Type::kInt, false, 0, 255},
    {"mesh.donation.reserve_cpu_cores", "CPU cores kept back from mesh work", "0", Type::kInt,
     false, 0, 4096},
    {"mesh.donation.reserve_memory", "Memory kept back from mesh work (\"4G\")", "0", Type::kBytes,
     false, 0, INT64_MAX},
    {"mesh.donation.reserve_vram", "GPU memory kept back from mesh work (\"2G\")", "0",
     Type::kBytes, false, 0, INT64_MAX},
    {"mesh.models.dirs",
     "Directories searched for GGUF files, safetensors models and LoRA adapters, reported in the "
     "mesh's model inventory (docs/models.md)",
     "", Type::kStringList},
    {"mesh.models.hub_cache",
     "Hugging Face hub cache to scan; empty: $HF_HUB_CACHE, else $HF_HOME/hub, else "
     "~/.cache/huggingface/hub; off: none",
     "", Type::kString},
    {"mesh.models.poll_interval",
     "How often the node rescans its models and engines and reports what changed", "60s",
     Type::kDurationSecs, false, 1, kDay},
    {"mesh.models.context_length",
     "Context length (tokens) of each model's memory estimate; 0: the model's own maximum", "0",
     Type::kInt, false, 0, int64_t{1} << 32},
    {"mesh.inference.endpoints",
     "Base URLs of OpenAI-compatible engines on this node (llama-server, vLLM, Ollama) whose "
     "models are listed in the inventory and served through the front door (docs/inference.md)",
     "", Type::kStringList},
    {"mesh.observability.log_level", "Log level: trace, debug, info, warn or error", "info",
     Type::kString, false, INT64_MIN, INT64_MAX, "trace|debug|info|warn|error"},
    {"mesh.observability.metrics_token",
     "Token that may read GET /metrics and nothing else (for a Prometheus scraper)", "",
     Type::kString, true},
    {"mesh.observability.log_format", "Log format: text or json", "text", Type::kString, false,
     INT64_MIN, INT64_MAX, "text|json"},
    {"mesh.observability.tracing", "Record spans of requests, placements and task runs", "true",
     Type::kBool},
    {"mesh.observability.span_retention", "Spans the control plane keeps in memory, by trace",
     "50000", Type::kInt, false, 100, 10'000'000},
    {"mesh.observability.otlp_endpoint",
     "OTLP/HTTP collector the control plane sends spans to (http://host:4318); empty: none", "",
     Type::kString},
    {"mesh.observability.otlp_timeout_ms", "Longest one OTLP export request may take", "5000",
     Type::kInt, false, 100, 120'000},
    {"mesh.bootstrap.token", "One-time token that lets a new node pair with the control plane", "",
     Type::kString, true},
    {"mesh.bootstrap.expires_unix_ms", "Expiry of the bootstrap token (Unix ms); 0: never", "0",
     Type::kInt, false, 0, INT64_MAX},
    {"mesh.tls.cert_path", "PEM certificate the control plane serves; empty: plain HTTP", "",
     Type::kString},
    {"mesh.tls.key_path", "PEM private key for cert_path", "", Type::kString},
    {"mesh.tls.ca_path", "PEM CA bundle clients trust for the control plane; empty: system", "",
     Type::kString},
    {"mesh.tls.min_version", "Lowest TLS version accepted", "1.3", Type::kString, false, INT64_MIN,
     INT64_MAX, "1.2|1.3"},
};

std::string EnvNameFor(std::string_view key) {
  std::string env = "VOX_MESH";
  std::string_view rest = key.substr(std::string_view("mesh").size());
  for (char c : rest) {
    env += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

}  // namespace

const std::vector<KeySpec>& Schema() {
  static const std::vector<KeySpec>* schema = [] {
    static std::deque<std::string> env_names;  // stable storage for the string_views
    auto* specs = new std::vector<KeySpec>();
    for (const Row& row : kRows) {
      env_names.push_back(EnvNameFor(row.key));
      specs->push_back(KeySpec{row.key, env_names.back(), row.doc, row.default_value, row.type,
                               row.secret, row.min, row.max, row.allowed});
    }
    return specs;
  }();
  return *schema;
}

const KeySpec* FindKey(std::string_view key) {
  for (const KeySpec& spec : Schema()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

const std::vector<LegacyEnv>& LegacyEnvNames() {
  static const std::vector<LegacyEnv> kLegacy = {
      {"VOX_MESH_CONTROL_ADDR", "mesh.control.url"},
      {"VOX_ORCHESTRATOR_MESH_CONTROL_URL", "mesh.control.url"},
      {"VOX_MESH_HTTP_HEARTBEAT_SECS", "mesh.control.heartbeat_secs"},
      {"VOX_MESH_HTTP_MAX_BODY_BYTES", "mesh.control.http.max_body_bytes"},
      {"VOX_MESH_HTTP_RATE_LIMIT_PER_SEC", "mesh.control.http.rate_per_sec"},
      {"VOX_MESH_HTTP_RATE_LIMIT_BURST", "mesh.control.http.rate_burst"},
      {"VOX_MESH_A2A_LEASE_MS", "mesh.control.a2a_claim_ttl_secs", 1000},
      {"VOX_MESH_A2A_MAX_MESSAGES", "mesh.control.inbox_cap"},
      {"VOX_MESH_EXEC_POLICY", "mesh.policy.exec"},
      {"VOX_MESH_ADMIN_TOKEN", "mesh.auth.admin_token"},
      {"VOX_MESH_WORKER_TOKEN", "mesh.auth.worker_token"},
      {"VOX_MESH_SUBMITTER_TOKEN", "mesh.auth.submitter_token"},
      {"VOX_MESH_JWT_HMAC_SECRET", "mesh.auth.jwt_hmac_secret"},
  };
  return kLegacy;
}

}  // namespace populi::config
