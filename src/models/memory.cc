#include <algorithm>

#include "models/inventory.h"

namespace populi::models {
namespace {

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}

// Bytes of an f16 KV cache at `ctx` tokens; nullopt when the shape is not known.
std::optional<uint64_t> KvCacheBytes(const mesh::ModelEntry& e, uint64_t ctx) {
  if (ctx == 0 || !e.block_count) return std::nullopt;
  const std::optional<uint32_t> kv_heads = e.head_count_kv ? e.head_count_kv : e.head_count;
  if (!kv_heads) return std::nullopt;
  std::optional<uint64_t> per_head;
  if (e.embedding_length && e.head_count && *e.head_count > 0)
    per_head = *e.embedding_length / *e.head_count;
  const std::optional<uint64_t> k =
      e.key_length ? std::optional<uint64_t>(*e.key_length) : per_head;
  const std::optional<uint64_t> v =
      e.value_length ? std::optional<uint64_t>(*e.value_length) : per_head;
  if (!k || !v) return std::nullopt;
  constexpr uint64_t kF16Bytes = 2;
  uint64_t bytes = SaturatingMul(*e.block_count, ctx);
  bytes = SaturatingMul(bytes, *kv_heads);
  bytes = SaturatingMul(bytes, *k + *v);
  return SaturatingMul(bytes, kF16Bytes);
}

}  // namespace

mesh::MemoryEstimate EstimateMemory(const mesh::ModelEntry& e, uint64_t context_length) {
  mesh::MemoryEstimate m;
  m.weights_bytes = e.memory ? e.memory->weights_bytes : e.size_bytes;
  uint64_t ctx = context_length;
  if (e.context_length) ctx = ctx == 0 ? *e.context_length : std::min(ctx, *e.context_length);
  m.context_length = ctx;
  m.kv_cache_bytes = KvCacheBytes(e, ctx);
  const uint64_t kv = m.kv_cache_bytes.value_or(0);
  m.total_bytes = m.weights_bytes > UINT64_MAX - kv ? UINT64_MAX : m.weights_bytes + kv;
  return m;
}

}  // namespace populi::models
