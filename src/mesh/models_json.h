// JSON codecs for the model inventory (mesh/models.h, docs/models.md). Same contract as
// mesh/json.h: absent optionals are omitted, unknown fields ignored, null reads as absent, a
// wrong type or an unknown source names the field path, and decode(encode(x)) reproduces every
// field of x.
//
// Required on decode: ModelEntry.id and .source; ModelInventory.schema_version, .node_id and
// .entries. An inventory whose schema_version is newer than kModelInventorySchemaVersion is
// refused (kInvalidArgument), since a bump means a field changed meaning.
#pragma once

#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/json_reader.h"
#include "mesh/models.h"
#include "util/status.h"

namespace populi::mesh {

boost::json::object ToJson(const ModelEntry& e);
// `path` prefixes error paths; `options` carries the hint and unknown-field rule of an
// enclosing reader (the node's inventory cache file reads entries with this decoder too).
Result<ModelEntry> ModelEntryFromJson(const boost::json::value& v, std::string path = {},
                                      const ReadOptions& options = {});
boost::json::object ToJson(const ModelScanProblem& p);
Result<ModelScanProblem> ModelScanProblemFromJson(const boost::json::value& v);
boost::json::object ToJson(const ModelInventory& inv);
Result<ModelInventory> ModelInventoryFromJson(const boost::json::value& v);

// Limits of a received inventory.
inline constexpr size_t kMaxInventoryEntries = 4096;
inline constexpr size_t kMaxModelIdBytes = 256;

// Shape checks of a received inventory: node_id as every id (mesh/validate.h); at most
// kMaxInventoryEntries entries; each id 1..kMaxModelIdBytes bytes of UTF-8 and unique.
// kInvalidArgument (kTooLarge for the entry count) naming the field.
Status ValidateModelInventory(const ModelInventory& inv);

}  // namespace populi::mesh
