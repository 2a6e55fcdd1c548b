// The catalog's mesh-wide tools: nodes, A2A messages, events.
#include <boost/json.hpp>

#include "mcp/tool_schema.h"

namespace populi::mcp::schema {

ToolSpec MeshStatusTool() {
  return {"mesh_status",
          "Mesh status",
          "A summary of the whole mesh: how many nodes are in each state (alive, suspect, down, "
          "left), the GPUs on alive nodes and how many of them are free, and how many peers this "
          "node is paired with for end-to-end secrets. Use it first to see whether the mesh can "
          "take work (a GPU task needs gpus_free > 0). Cheap: one read of the node list.",
          Access::kRead,
          true,
          false,
          true,
          Object({}, {}),
          Output({{"nodes_total", Int("nodes the control plane knows")},
                  {"nodes_by_state",
                   {{"type", "object"},
                    {"additionalProperties", {{"type", "integer"}}},
                    {"description", "node count per state name"}}},
                  {"gpus_total", Int("GPUs on alive nodes")},
                  {"gpus_free", Int("GPUs on alive nodes with at least half their memory free")},
                  {"free_vram_bytes", Int("free GPU memory on alive nodes, in bytes")},
                  {"local_node_id", Str("the node this server speaks for; empty when none")},
                  {"paired_peers",
                   Nullable("integer", "peers this node is paired with; null when not known")}},
                 {"nodes_total", "nodes_by_state", "gpus_total", "gpus_free", "paired_peers"}),
          {}};
}

ToolSpec ListNodesTool() {
  json::object node{{"type", "object"},
                    {"properties",
                     {{"id", Str("node id")},
                      {"state", Str("alive | suspect | down | left")},
                      {"host", Str("host name (informational)")},
                      {"version", Str("the node's vox version")},
                      {"labels", StrMap("the node's labels (task constraints match these)")},
                      {"cpus", Int("logical CPUs")},
                      {"gpus", Int("GPUs")},
                      {"gpu_names", ArrayOf(Str("GPU model"), "each GPU's model name")},
                      {"free_vram_bytes", Int("free GPU memory, in bytes")},
                      {"last_seen_ms", Int("last heartbeat, Unix ms")}}},
                    {"required", json::array{"id", "state", "gpus"}}};
  return {"list_nodes",
          "List nodes",
          "Every node of the mesh with its state, labels, CPUs and GPUs (model and free memory). "
          "Use it to pick labels or a node for submit_task's constraints. Cheap: one read.",
          Access::kRead,
          true,
          false,
          true,
          Object({}, {}),
          Output({{"nodes", ArrayOf(std::move(node), "the nodes, by id")}}, {"nodes"}),
          {}};
}

ToolSpec A2ASendTool() {
  return {"a2a_send",
          "Send an A2A message",
          "Delivers one agent-to-agent message to a receiver's inbox on the mesh (the control "
          "plane stores it until the receiver claims and acknowledges it). message_type is the "
          "mesh's closed vocabulary (task_progress, task_result, job_submit, … see "
          "docs/vocabulary.md); secret_* types are refused here. Cheap: one write. A repeated call "
          "with the same idempotency_key stores nothing new.",
          Access::kSubmit,
          false,
          false,
          false,
          Object({{"receiver", Str("the receiving agent's id (a node id or an agent name)")},
                  {"message_type", Str("a message_type of the mesh's vocabulary")},
                  {"payload", Str("the message body, text (JSON by convention)")},
                  {"sender", Str("who sends it; default: this server's node id, else \"mcp\"")},
                  {"idempotency_key", Str("a repeat with this key stores nothing new")},
                  {"priority", Int("0 lowest … 255 highest (default 128)")}},
                 {"receiver", "message_type"}),
          Output({{"message_id", Int("the stored message's id")},
                  {"duplicate", Bool("true when idempotency_key matched an earlier delivery")}},
                 {"message_id", "duplicate"}),
          {{"receiver", "agent-1"}, {"message_type", "task_progress"}, {"payload", "{}"}}};
}

ToolSpec A2AReceiveTool() {
  json::object message{{"type", "object"},
                       {"properties",
                        {{"id", Int("message id")},
                         {"sender", Str("who sent it")},
                         {"message_type", Str("its type")},
                         {"payload", Str("its body; empty for sealed secret messages")},
                         {"created_ms", Int("when it was stored, Unix ms")},
                         {"delivery_count", Int("claims so far, this one included")}}},
                       {"required", json::array{"id", "sender", "message_type", "payload"}}};
  return {"a2a_receive",
          "Receive A2A messages",
          "Claims up to max_messages messages from a receiver's inbox and acknowledges them, so "
          "each is handed out once: read them from the result, they will not be delivered "
          "again. With wait_ms it waits (at most 30000) for a message when the inbox is empty. "
          "The claimer must be a node of the mesh (default: this server's node).",
          Access::kNodePlane,
          false,
          true,
          false,
          Object({{"receiver", Str("the inbox to read")},
                  {"claimer_node_id", Str("the claiming node; default: this server's node id")},
                  {"max_messages", Int("at most this many (1..100, default 10)", 1)},
                  {"wait_ms", Int("wait this long for a message when none is there (default 0)")}},
                 {"receiver"}),
          Output({{"messages", ArrayOf(std::move(message), "the claimed messages, oldest first")},
                  {"acked", ArrayOf(Int("message id"), "the ids acknowledged")}},
                 {"messages", "acked"}),
          {{"receiver", "agent-1"}, {"max_messages", 5}}};
}

ToolSpec EventsSinceTool() {
  json::object event{
      {"type", "object"},
      {"properties",
       {{"id", Int("increasing event id")},
        {"ts_ms", Int("when, Unix ms")},
        {"kind", Str("node.joined, task.submitted, lease.expired, … (docs/events.md)")},
        {"subject", Str("what it is about: a node, task, lease or message id")},
        {"data", {{"type", "object"}, {"description", "the event's details"}}}}},
      {"required", json::array{"id", "ts_ms", "kind", "subject", "data"}}};
  return {"events_since",
          "Read mesh events",
          "The mesh's event log after event id `after`, oldest first: nodes joining and going "
          "down, tasks submitted, placed and ended, leases expiring. Poll it with next_after to "
          "follow what happens. Cheap: one read of at most `limit` events.",
          Access::kRead,
          true,
          false,
          true,
          Object({{"after", Int("return events with a larger id (default 0)")},
                  {"limit", Int("at most this many (1..1000, default 100)", 1)}},
                 {}),
          Output({{"events", ArrayOf(std::move(event), "the events")},
                  {"next_after", Int("pass as `after` to read on")}},
                 {"events", "next_after"}),
          {{"after", 0}, {"limit", 10}}};
}

}  // namespace populi::mcp::schema
