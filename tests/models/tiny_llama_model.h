// A tiny llama-architecture model that a real engine (llama.cpp, through node-llama-cpp) loads
// and runs: 2 blocks, 64-wide embeddings, 4 attention heads over 2 KV heads, a 128-wide SwiGLU
// feed-forward, context 256, F32 weights drawn from a seeded generator, and a byte-level
// SentencePiece ("llama") vocabulary of 259 tokens: <unk>, <s>, </s>, then <0x00> … <0xFF>,
// so any text tokenizes through byte fallback. About 107 k parameters, 0.43 MB on disk.
//
// The weights are random except one lane that keeps greedy output readable: embedding dimension 0
// is a constant that no block writes to (row 0 of attn_output and ffn_down is zero), so after the
// final norm it is always positive, and the output head gives that dimension a positive weight
// only for lowercase letters and the space. Every other token (</s> included) is out-scored, so
// a completion runs to its max_tokens and is plain ASCII: streamed pieces concatenate to the
// whole answer byte for byte.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/model_fixtures.h"

namespace populi::models::testing {

struct TinyLlamaModelShape {
  uint32_t layers = 2;
  uint32_t embedding = 64;
  uint32_t heads = 4;
  uint32_t kv_heads = 2;
  uint32_t feed_forward = 128;
  uint32_t context = 256;
  uint32_t vocab = 3 + 256;  // <unk>, <s>, </s>, the 256 bytes
  uint32_t head_dim() const { return embedding / heads; }
  uint32_t kv_width() const { return head_dim() * kv_heads; }
  // Every tensor's element count, summed (what the GGUF parser reports).
  uint64_t parameters() const {
    const uint64_t e = embedding, ff = feed_forward;
    const uint64_t per_block = 2 * e                             // attn_norm, ffn_norm
                               + 2 * e * e + 2 * e * kv_width()  // q, output; k, v
                               + 3 * e * ff;                     // gate, up, down
    return 2 * uint64_t{vocab} * e + e + layers * per_block;
  }
};

inline constexpr char kTinyLlamaModelName[] = "Populi Tiny Llama";

// splitmix64: the same stream on every platform (std's distributions are not).
class SeededFloats {
 public:
  explicit SeededFloats(uint64_t seed) : state_(seed) {}
  // Uniform in [-scale, scale].
  float Next(float scale) {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double unit = static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
    return static_cast<float>((unit * 2.0 - 1.0) * scale);
  }
  std::vector<float> Many(uint64_t n, float scale) {
    std::vector<float> out(n);
    for (auto& v : out) v = Next(scale);
    return out;
  }

 private:
  uint64_t state_;
};

// The vocabulary's token texts: SentencePiece spells byte tokens "<0xXX>".
inline std::vector<std::string> ByteVocabulary() {
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b)
    tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
  return tokens;
}

// True for the tokens greedy decoding can pick: the bytes 'a'..'z' and ' '.
inline bool TinyLlamaSpeaks(uint32_t token) {
  if (token < 3) return false;
  const uint32_t byte = token - 3;
  return byte == ' ' || (byte >= 'a' && byte <= 'z');
}

inline std::string TinyLlamaModelGguf(uint64_t seed = 17, TinyLlamaModelShape s = {}) {
  SeededFloats rng(seed);
  const uint64_t e = s.embedding, ff = s.feed_forward, kv = s.kv_width(), v = s.vocab;
  GgufBuilder b;
  std::vector<float> scores(v, 0.0f);
  std::vector<int32_t> types(v, 6);  // byte
  types[0] = 2;                      // unknown
  types[1] = types[2] = 3;           // control
  b.Str("general.architecture", "llama")
      .Str("general.name", kTinyLlamaModelName)
      .U32("general.file_type", 0)  // all F32
      .U32("llama.context_length", s.context)
      .U32("llama.embedding_length", s.embedding)
      .U32("llama.block_count", s.layers)
      .U32("llama.feed_forward_length", s.feed_forward)
      .U32("llama.attention.head_count", s.heads)
      .U32("llama.attention.head_count_kv", s.kv_heads)
      .U32("llama.rope.dimension_count", s.head_dim())
      .F32("llama.rope.freq_base", 10000.0f)
      .F32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .U32("llama.vocab_size", s.vocab)
      .Str("tokenizer.ggml.model", "llama")
      .StrArray("tokenizer.ggml.tokens", ByteVocabulary())
      .F32Array("tokenizer.ggml.scores", scores)
      .I32Array("tokenizer.ggml.token_type", types)
      .U32("tokenizer.ggml.unknown_token_id", 0)
      .U32("tokenizer.ggml.bos_token_id", 1)
      .U32("tokenizer.ggml.eos_token_id", 2)
      .Bool("tokenizer.ggml.add_bos_token", true)
      .Bool("tokenizer.ggml.add_eos_token", false);

  // Token embeddings: dimension 0 is the constant lane, the rest small and random.
  std::vector<float> embd = rng.Many(v * e, 0.5f);
  for (uint64_t t = 0; t < v; ++t) embd[t * e] = 1.0f;
  b.Tensor("token_embd.weight", {e, v}, embd);
  b.Tensor("output_norm.weight", {e}, std::vector<float>(e, 1.0f));
  std::vector<float> head = rng.Many(v * e, 1.0f);
  for (uint32_t t = 0; t < v; ++t) head[t * e] = TinyLlamaSpeaks(t) ? 4.0f : -4.0f;
  b.Tensor("output.weight", {e, v}, head);

  const float in_scale = 1.0f / std::sqrt(static_cast<float>(e));
  const float ff_scale = 1.0f / std::sqrt(static_cast<float>(ff));
  for (uint32_t i = 0; i < s.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    b.Tensor(p + "attn_norm.weight", {e}, std::vector<float>(e, 1.0f));
    b.Tensor(p + "attn_q.weight", {e, e}, rng.Many(e * e, in_scale));
    b.Tensor(p + "attn_k.weight", {e, kv}, rng.Many(e * kv, in_scale));
    b.Tensor(p + "attn_v.weight", {e, kv}, rng.Many(e * kv, in_scale));
    // Output rows are contiguous (dims[0] is the input): row 0 writes the constant lane.
    std::vector<float> out = rng.Many(e * e, in_scale);
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(e), 0.0f);
    b.Tensor(p + "attn_output.weight", {e, e}, out);
    b.Tensor(p + "ffn_norm.weight", {e}, std::vector<float>(e, 1.0f));
    b.Tensor(p + "ffn_gate.weight", {e, ff}, rng.Many(e * ff, in_scale));
    b.Tensor(p + "ffn_up.weight", {e, ff}, rng.Many(e * ff, in_scale));
    std::vector<float> down = rng.Many(ff * e, ff_scale);
    std::fill(down.begin(), down.begin() + static_cast<std::ptrdiff_t>(ff), 0.0f);
    b.Tensor(p + "ffn_down.weight", {ff, e}, down);
  }
  return b.Build();
}

}  // namespace populi::models::testing
