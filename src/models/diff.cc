#include <algorithm>
#include <map>

#include "models/inventory.h"

namespace populi::models {

InventoryDiff DiffInventories(const mesh::ModelInventory& before,
                              const mesh::ModelInventory& after) {
  std::map<std::string_view, const mesh::ModelEntry*> old_entries;
  for (const auto& e : before.entries) old_entries.emplace(e.id, &e);
  InventoryDiff diff;
  for (const auto& e : after.entries) {
    auto it = old_entries.find(e.id);
    if (it == old_entries.end()) {
      diff.added.push_back(e.id);
      continue;
    }
    if (!(*it->second == e)) diff.changed.push_back(e.id);
    old_entries.erase(it);
  }
  for (const auto& [id, entry] : old_entries) diff.removed.emplace_back(id);
  std::sort(diff.added.begin(), diff.added.end());
  std::sort(diff.changed.begin(), diff.changed.end());
  std::sort(diff.removed.begin(), diff.removed.end());
  diff.added.erase(std::unique(diff.added.begin(), diff.added.end()), diff.added.end());
  diff.changed.erase(std::unique(diff.changed.begin(), diff.changed.end()), diff.changed.end());
  return diff;
}

}  // namespace populi::models
