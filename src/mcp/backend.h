// What the MCP tools need from the mesh, as typed calls. Two implementations keep one
// implementation of each tool: the stdio server (`vox populi mcp`) calls the control plane over
// HTTP with client::ControlPlaneApi (cli/verbs/mcp.cc); the control plane's own /mcp route runs
// its route handlers in-process with the caller's credential (control/api/mcp_routes.cc).
//
// Calls run with the tool call's trace context current on the calling thread
// (obs::CurrentContext()): an implementation passes it on so the mesh's spans join the caller's
// trace. Errors are the mesh's Status (code, message, hint), never exceptions.
#pragma once

#include <cstdint>
#include <string>

#include "mesh/json.h"
#include "mesh/replies.h"
#include "mesh/task.h"
#include "util/status.h"

namespace populi::mcp {

// A submit's task, and whether this call created it (false: its client_key named a task that
// already existed).
struct Submitted {
  mesh::Task task;
  bool created = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Result<mesh::NodeList> Nodes() = 0;
  virtual Result<Submitted> Submit(const mesh::TaskSpec& spec) = 0;
  // The task once it has ended, or as it is after `wait_ms`.
  virtual Result<mesh::Task> Wait(const std::string& id, int64_t wait_ms) = 0;
  virtual Result<mesh::LogPage> Logs(const std::string& id, int64_t after) = 0;
  virtual Result<mesh::Task> Cancel(const std::string& id) = 0;
  virtual Result<mesh::TaskExplanation> Explain(const std::string& id) = 0;
  virtual Result<mesh::DeliverReply> Deliver(const mesh::NewMessage& message) = 0;
  virtual Result<mesh::InboxPage> Inbox(const mesh::InboxRequest& request) = 0;
  virtual Result<mesh::AckReply> Ack(const mesh::AckRequest& request) = 0;
  virtual Result<mesh::EventPage> Events(int64_t after, int limit) = 0;
  // The node this server speaks for (the claimer of a2a_receive, the pairing count of
  // mesh_status); empty when there is none.
  virtual std::string LocalNodeId() const = 0;
};

}  // namespace populi::mcp
