// JSON codecs for the inventory's reporting protocol and mesh-wide listing (mesh/inventory.h,
// docs/models.md "Reporting"), and readers of the model lists local engines answer with. Same
// contract as mesh/json.h: absent optionals are omitted, unknown fields ignored, null reads as
// absent, a wrong type names the field path, and decode(encode(x)) reproduces every field of x.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/inventory.h"
#include "util/status.h"

namespace populi::mesh {

// Required on decode: schema_version (newer than kModelInventorySchemaVersion is refused) and
// node_id.
boost::json::object ToJson(const InventoryReport& r);
Result<InventoryReport> InventoryReportFromJson(const boost::json::value& v);

boost::json::object ToJson(const InventoryReportReply& r);
Result<InventoryReportReply> InventoryReportReplyFromJson(const boost::json::value& v);

boost::json::object ToJson(const StoredInventory& s);
Result<StoredInventory> StoredInventoryFromJson(const boost::json::value& v);

boost::json::object ToJson(const InventoryRefresh& r);
Result<InventoryRefresh> InventoryRefreshFromJson(const boost::json::value& v);

// A mesh model is its entry's fields plus "nodes" (the holders).
boost::json::object ToJson(const MeshModel& m);
Result<MeshModel> MeshModelFromJson(const boost::json::value& v);
boost::json::object ToJson(const MeshModelList& l);
Result<MeshModelList> MeshModelListFromJson(const boost::json::value& v);

// An engine's GET /v1/models reply ({"object":"list","data":[…]}); "data" is required.
Result<std::vector<EngineModel>> EngineModelListFromJson(const boost::json::value& v);
// Ollama's GET /api/ps reply ({"models":[…]}); "models" is required (null reads as none).
Result<std::vector<OllamaLoadedModel>> OllamaLoadedModelsFromJson(const boost::json::value& v);

// The data of a model.added / model.removed event (docs/events.md): node_id, name, source,
// format, quantization, size_bytes, and path or endpoint.
boost::json::object ModelEventData(const std::string& node_id, const ModelEntry& e);

// Problems one report may carry (an agent keeps the first ones and says how many it left out).
inline constexpr size_t kMaxInventoryProblems = 256;
// Bounds of a report's poll interval.
inline constexpr int64_t kMinInventoryPollMs = 1'000;
inline constexpr int64_t kMaxInventoryPollMs = 86'400'000;

// Shape checks of a received report: node_id as every id; poll_ms within its bounds; a whole
// report is no refresh; at most kMaxInventoryEntries entries and removed ids, each id 1..
// kMaxModelIdBytes bytes of UTF-8, unique, and never both added and removed; at most
// kMaxInventoryProblems problems. kInvalidArgument (kTooLarge for a count) naming the field.
Status ValidateInventoryReport(const InventoryReport& r);

}  // namespace populi::mesh
