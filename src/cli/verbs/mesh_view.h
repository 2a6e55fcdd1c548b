// Helpers the client verbs share for talking to the control plane and showing nodes (defined in
// peers.cc): a configured client, the CLI's view of an unreachable control plane, the node list,
// GPU summaries and state colours.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/verb.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "mesh/types.h"
#include "util/status.h"

namespace populi::cli {

// A client of `url` presenting mesh.token (when `with_token`) and trusting mesh.tls.ca_path.
client::ControlPlaneApi ControlClient(const config::Config& cfg, const std::string& url,
                                      bool with_token = true);
// An unreachable control plane (kUnavailable, kTimeout) gets the CLI's hint; others pass through.
Status ControlPlaneStatus(Status status);
// The nodes sorted by id; the control plane's and this machine's clocks at the answer.
Result<std::vector<mesh::NodeRecord>> FetchNodes(client::ControlPlaneApi& api,
                                                 int64_t* server_time_ms, int64_t* local_time_ms,
                                                 int timeout_ms = 10'000);
// Layer B free memory of a GPU (memory_allocatable_bytes, else the probed free memory).
uint64_t GpuFreeBytes(const mesh::GpuDevice& gpu);
// "2× H100 80G (71G free)"; "-" when there is no GPU.
std::string GpuSummary(const std::vector<mesh::GpuDevice>& gpus);
// The colour a node state is shown in (its name is always printed too).
Color StateColor(mesh::NodeState state);
// `text` with control characters replaced by '?', safe to print from a remote record.
std::string Printable(std::string text);

}  // namespace populi::cli
