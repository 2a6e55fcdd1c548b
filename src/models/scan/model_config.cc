#include "models/scan/model_config.h"

#include <boost/json.hpp>

#include "mesh/json.h"
#include "mesh/json_reader.h"

namespace populi::models::scan {
namespace {

namespace json = boost::json;

constexpr std::string_view kConfigHint = "the model's JSON files do not follow the usual format";

template <typename T>
void OptionalNumber(mesh::FieldReader& r, std::string_view key, std::optional<T>& out) {
  if (!r.Has(key)) return;
  T n{};
  r.Num(key, n);
  if (r.ok()) out = n;
}

// The attention shape, from the top level of config.json or from its text_config.
Status ReadShape(const json::value& v, const std::string& path, mesh::ModelEntry& e) {
  mesh::FieldReader r(v, path, mesh::ReadOptions{std::string(kConfigHint)});
  if (r.Has("max_position_embeddings")) {
    uint64_t n = 0;
    r.U64("max_position_embeddings", n);
    if (r.ok()) e.context_length = n;
  }
  OptionalNumber(r, "num_hidden_layers", e.block_count);
  OptionalNumber(r, "hidden_size", e.embedding_length);
  OptionalNumber(r, "num_attention_heads", e.head_count);
  OptionalNumber(r, "num_key_value_heads", e.head_count_kv);
  if (!e.head_count_kv) e.head_count_kv = e.head_count;
  std::optional<uint32_t> head_dim;
  OptionalNumber(r, "head_dim", head_dim);
  if (head_dim) e.key_length = e.value_length = head_dim;
  return r.status();
}

}  // namespace

Status ApplyModelConfig(const std::string& text, mesh::ModelEntry& e) {
  POPULI_ASSIGN_OR_RETURN(json::value doc, mesh::ParseJson(text));
  mesh::FieldReader r(doc, "", mesh::ReadOptions{std::string(kConfigHint)});
  std::string model_type;
  r.Str("model_type", model_type);
  if (!model_type.empty()) e.architecture = model_type;
  if (const json::value* q = r.Object("quantization_config")) {
    mesh::FieldReader qr(*q, "quantization_config", r.options());
    std::string method;
    qr.Str("quant_method", method);
    if (!qr.ok()) return qr.status();
    if (!method.empty()) e.quantization = method;
  }
  if (!r.ok()) return r.status();
  const json::value* text_config = r.Object("text_config");
  if (!r.ok()) return r.status();
  if (text_config != nullptr && !r.Has("num_hidden_layers"))
    return ReadShape(*text_config, "text_config", e);
  return ReadShape(doc, "", e);
}

Result<mesh::LoraInfo> ReadAdapterConfig(const std::string& text) {
  POPULI_ASSIGN_OR_RETURN(json::value doc, mesh::ParseJson(text));
  mesh::FieldReader r(doc, "", mesh::ReadOptions{std::string(kConfigHint)});
  mesh::LoraInfo lora;
  r.Str("base_model_name_or_path", lora.base_model);
  OptionalNumber(r, "r", lora.rank);
  if (r.Has("lora_alpha")) {
    double alpha = 0;
    r.Double("lora_alpha", alpha);
    if (r.ok()) lora.alpha = alpha;
  }
  if (const json::value* targets = r.Raw("target_modules"); targets && targets->is_string()) {
    lora.target_modules.emplace_back(targets->get_string());
  } else {
    r.Strings("target_modules", lora.target_modules);
  }
  if (!r.ok()) return r.status();
  return lora;
}

}  // namespace populi::models::scan
