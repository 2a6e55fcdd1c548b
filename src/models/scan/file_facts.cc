#include "models/scan/file_facts.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "models/scan/files.h"
#include "models/scan/safetensors.h"
#include "models/scan/sha256.h"
#include "models/scan/sources.h"

namespace populi::models::scan {
namespace {

Result<mesh::ModelEntry> ParseHeader(const std::string& path, FileKind kind) {
  POPULI_ASSIGN_OR_RETURN(ByteReader in, ByteReader::OpenFile(path));
  mesh::ModelEntry e;
  e.size_bytes = in.size();
  if (kind == FileKind::kOther) return e;
  if (kind == FileKind::kGguf) {
    auto info = ParseGguf(in);
    if (!info.ok()) return info.status();
    e.format = "gguf";
    ApplyGgufInfo(*info, e);
  } else {
    auto header = ParseSafetensors(in);
    if (!header.ok()) return header.status();
    e.format = "safetensors";
    e.source = mesh::ModelSource::kSafetensors;
    e.parameter_count = header->parameter_count;
    e.tensor_count = header->tensor_count;
    std::string dtypes;
    for (const auto& d : header->dtypes) dtypes += (dtypes.empty() ? "" : ",") + d;
    e.quantization = dtypes;
  }
  return e;
}

}  // namespace

void ApplyGgufInfo(const GgufInfo& info, mesh::ModelEntry& e) {
  e.source = info.type == "adapter" ? mesh::ModelSource::kLora : mesh::ModelSource::kGguf;
  e.name = info.name;
  e.architecture = info.architecture;
  if (info.file_type) e.quantization = GgufFileTypeName(*info.file_type);
  e.parameter_count = info.parameter_count;
  e.tensor_count = info.tensor_count;
  e.context_length = info.context_length;
  auto narrow = [](const std::optional<uint64_t>& v) -> std::optional<uint32_t> {
    if (!v || *v > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(*v);
  };
  e.block_count = narrow(info.block_count);
  e.embedding_length = narrow(info.embedding_length);
  e.head_count = narrow(info.head_count);
  e.head_count_kv = narrow(info.head_count_kv);
  e.key_length = narrow(info.key_length);
  e.value_length = narrow(info.value_length);
  if (e.source == mesh::ModelSource::kLora) {
    e.lora = mesh::LoraInfo{};
    e.lora->alpha = info.lora_alpha;
  }
}

Result<mesh::ModelEntry> FileFactsOf(const std::string& path, FileKind kind, bool need_id,
                                     ScanContext& ctx) {
  POPULI_ASSIGN_OR_RETURN(FileStamp stamp, StampOf(path));
  FileFacts facts;
  if (const FileFacts* cached = ctx.cache.Find(path, stamp)) {
    if (!cached->entry) return InvalidArgument(cached->error, "fix or remove the file");
    if (!need_id || !cached->entry->id.empty()) return *cached->entry;
    facts = *cached;
  } else {
    facts.stamp = stamp;
    auto parsed = ParseHeader(path, kind);
    if (!parsed.ok()) {
      // Only what the file says is cached; a file that could not be opened is tried again.
      if (parsed.status().code() == Code::kInvalidArgument) {
        facts.error = parsed.status().message();
        ctx.cache.Put(path, facts);
        return InvalidArgument(facts.error, parsed.status().hint());
      }
      return parsed.status();
    }
    facts.entry = std::move(*parsed);
  }
  if (need_id) {
    auto digest = Sha256OfFile(path);
    if (!digest.ok()) return digest.status();
    // A file still being written would otherwise keep a hash of what it held at one moment.
    auto after = StampOf(path);
    if (!after.ok() || !(*after == stamp))
      return Unavailable(path + ": changed while it was hashed",
                         "it is hashed again by the next scan once it stops changing");
    facts.entry->id = "sha256:" + *digest;
  }
  ctx.cache.Put(path, facts);
  return *facts.entry;
}

std::string CombinedId(std::vector<std::pair<std::string, std::string>> parts) {
  std::sort(parts.begin(), parts.end());
  std::string text;
  for (const auto& [name, id] : parts) {
    text += name;
    text += '\0';
    text += id;
    text += '\n';
  }
  return "sha256:" + Sha256OfBytes(text);
}

void SafetensorsSum::Add(const std::string& path, const mesh::ModelEntry& facts) {
  size_ += facts.size_bytes;
  parameters_ += facts.parameter_count.value_or(0);
  tensors_ += facts.tensor_count.value_or(0);
  ids_.emplace_back(BaseName(path), facts.id);
  std::string_view rest = facts.quantization;
  while (!rest.empty()) {
    const size_t comma = std::min(rest.find(','), rest.size());
    const std::string dtype(rest.substr(0, comma));
    if (std::find(dtypes_.begin(), dtypes_.end(), dtype) == dtypes_.end()) dtypes_.push_back(dtype);
    rest.remove_prefix(std::min(comma + 1, rest.size()));
  }
}

void SafetensorsSum::ApplyTo(mesh::ModelEntry& e) const {
  e.format = "safetensors";
  e.parameter_count = parameters_;
  e.tensor_count = tensors_;
  e.quantization.clear();
  for (const auto& d : dtypes_) e.quantization += (e.quantization.empty() ? "" : ",") + d;
  SetWeightsBytes(size_, e);
}

mesh::ModelEntry SafetensorsSum::Entry() const {
  mesh::ModelEntry e;
  e.source = mesh::ModelSource::kSafetensors;
  ApplyTo(e);
  e.size_bytes = size_;
  e.id = ids_.size() == 1 ? ids_.front().second : CombinedId(ids_);
  return e;
}

}  // namespace populi::models::scan
