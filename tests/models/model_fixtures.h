// Model files the tests write themselves: GGUF and safetensors files built byte by byte from
// their published layouts, Hugging Face hub cache trees, and a temporary directory to hold them.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace populi::models::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/populi-models-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Writes `bytes` to `path`, creating parent directories.
inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A symbolic link at `link` to `target` (relative or absolute), creating parent directories.
inline void Symlink(const std::string& target, const std::string& link) {
  std::filesystem::create_directories(std::filesystem::path(link).parent_path());
  std::filesystem::create_symlink(target, link);
}

// Sets a file's modification time (seconds since the epoch).
inline void SetMtime(const std::string& path, int64_t secs) {
  std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::from_sys(
                                             std::chrono::sys_seconds(std::chrono::seconds(secs))));
}

template <typename T>
void AppendLe(std::string& out, T v) {
  char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  out.append(raw, sizeof(T));
}

// GGUF version 3 (or 2), little-endian: header, metadata, tensor infos, alignment, data.
class GgufBuilder {
 public:
  enum Type : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
  };

  GgufBuilder& Version(uint32_t v) {
    version_ = v;
    return *this;
  }
  GgufBuilder& Str(const std::string& key, const std::string& value) {
    Key(key, kString);
    Text(kv_, value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& U32(const std::string& key, uint32_t value) {
    Key(key, kU32);
    AppendLe(kv_, value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& U64(const std::string& key, uint64_t value) {
    Key(key, kU64);
    AppendLe(kv_, value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& I32(const std::string& key, int32_t value) {
    Key(key, kI32);
    AppendLe(kv_, value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& F32(const std::string& key, float value) {
    Key(key, kF32);
    AppendLe(kv_, value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& Bool(const std::string& key, bool value) {
    Key(key, kBool);
    kv_.push_back(value ? 1 : 0);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& StrArray(const std::string& key, const std::vector<std::string>& values) {
    Key(key, kArray);
    AppendLe<uint32_t>(kv_, kString);
    AppendLe<uint64_t>(kv_, values.size());
    for (const auto& v : values) Text(kv_, v);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& U32Array(const std::string& key, const std::vector<uint32_t>& values) {
    Key(key, kArray);
    AppendLe<uint32_t>(kv_, kU32);
    AppendLe<uint64_t>(kv_, values.size());
    for (uint32_t v : values) AppendLe(kv_, v);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& I32Array(const std::string& key, const std::vector<int32_t>& values) {
    Key(key, kArray);
    AppendLe<uint32_t>(kv_, kI32);
    AppendLe<uint64_t>(kv_, values.size());
    for (int32_t v : values) AppendLe(kv_, v);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& F32Array(const std::string& key, const std::vector<float>& values) {
    Key(key, kArray);
    AppendLe<uint32_t>(kv_, kF32);
    AppendLe<uint64_t>(kv_, values.size());
    for (float v : values) AppendLe(kv_, v);
    ++kv_count_;
    return *this;
  }
  // An array of `outer` arrays of two i32 each.
  GgufBuilder& NestedArray(const std::string& key, uint64_t outer) {
    Key(key, kArray);
    AppendLe<uint32_t>(kv_, kArray);
    AppendLe<uint64_t>(kv_, outer);
    for (uint64_t i = 0; i < outer; ++i) {
      AppendLe<uint32_t>(kv_, kI32);
      AppendLe<uint64_t>(kv_, 2);
      AppendLe<int32_t>(kv_, 1);
      AppendLe<int32_t>(kv_, -1);
    }
    ++kv_count_;
    return *this;
  }
  // A tensor of f32 elements (ggml type 0) with the given shape.
  GgufBuilder& Tensor(const std::string& name, const std::vector<uint64_t>& dims) {
    Text(tensors_, name);
    AppendLe<uint32_t>(tensors_, static_cast<uint32_t>(dims.size()));
    uint64_t elements = 1;
    for (uint64_t d : dims) {
      AppendLe(tensors_, d);
      elements *= d;
    }
    AppendLe<uint32_t>(tensors_, 0);
    AppendLe<uint64_t>(tensors_, data_bytes_);
    data_bytes_ += (elements * 4 + 31) / 32 * 32;
    ++tensor_count_;
    return *this;
  }
  // The same with its elements (as many as the shape holds), in GGML's order: dims[0] varies
  // fastest. Tensors without values are filled with 0x11 bytes.
  GgufBuilder& Tensor(const std::string& name, const std::vector<uint64_t>& dims,
                      const std::vector<float>& values) {
    values_.emplace_back(data_bytes_, values);
    return Tensor(name, dims);
  }

  // The file; without data, only the header (magic to the last tensor info), which is all a
  // header parser reads.
  std::string Build(bool with_data = true) const {
    std::string out = "GGUF";
    AppendLe(out, version_);
    AppendLe(out, tensor_count_);
    AppendLe(out, kv_count_);
    out += kv_;
    out += tensors_;
    if (!with_data) return out;
    out.resize((out.size() + 31) / 32 * 32, '\0');
    const size_t base = out.size();
    out.append(data_bytes_, '\x11');
    for (const auto& [offset, values] : values_)
      std::memcpy(out.data() + base + offset, values.data(), values.size() * sizeof(float));
    return out;
  }

 private:
  static void Text(std::string& out, const std::string& s) {
    AppendLe<uint64_t>(out, s.size());
    out += s;
  }
  void Key(const std::string& key, uint32_t type) {
    Text(kv_, key);
    AppendLe(kv_, type);
  }

  uint32_t version_ = 3;
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
  std::string kv_;
  std::string tensors_;
  uint64_t data_bytes_ = 0;
  std::vector<std::pair<uint64_t, std::vector<float>>> values_;  // (data offset, elements)
};

// A small llama-architecture GGUF: 2 blocks, 64-wide embeddings, 4 heads, 2 KV heads, Q4_K_M,
// context 256, a 3-token vocabulary; 5 tensors of 64×64, 64×64, 64, 64×16 and 16×64 elements.
inline GgufBuilder TinyLlamaGguf() {
  GgufBuilder b;
  b.Str("general.architecture", "llama")
      .Str("general.name", "Tiny Llama")
      .U32("general.file_type", 15)
      .U32("llama.context_length", 256)
      .U32("llama.block_count", 2)
      .U32("llama.embedding_length", 64)
      .U32("llama.attention.head_count", 4)
      .U32("llama.attention.head_count_kv", 2)
      .F32("llama.rope.freq_base", 10000.0f)
      .StrArray("tokenizer.ggml.tokens", {"<s>", "</s>", "a"})
      .F32Array("tokenizer.ggml.scores", {0.0f, 0.0f, -1.5f})
      .Tensor("token_embd.weight", {64, 64})
      .Tensor("blk.0.attn_q.weight", {64, 64})
      .Tensor("blk.0.attn_norm.weight", {64})
      .Tensor("blk.0.ffn_up.weight", {64, 16})
      .Tensor("output.weight", {16, 64});
  return b;
}
inline constexpr uint64_t kTinyLlamaParameters = 64 * 64 + 64 * 64 + 64 + 64 * 16 + 16 * 64;

// A safetensors file: (name, dtype, shape) tensors laid out in order, zero-filled data.
inline std::string Safetensors(
    const std::vector<std::tuple<std::string, std::string, std::vector<uint64_t>>>& tensors,
    const std::string& metadata_format = "pt") {
  boost::json::object header;
  header["__metadata__"] = boost::json::object{{"format", metadata_format}};
  uint64_t offset = 0;
  for (const auto& [name, dtype, shape] : tensors) {
    uint64_t elements = 1;
    boost::json::array dims;
    for (uint64_t d : shape) {
      elements *= d;
      dims.emplace_back(d);
    }
    const uint64_t width = dtype == "F32" ? 4 : dtype == "I8" || dtype == "U8" ? 1 : 2;
    boost::json::object t;
    t["dtype"] = dtype;
    t["shape"] = std::move(dims);
    t["data_offsets"] = boost::json::array{offset, offset + elements * width};
    header[name] = std::move(t);
    offset += elements * width;
  }
  const std::string text = boost::json::serialize(header);
  std::string out;
  AppendLe<uint64_t>(out, text.size());
  out += text;
  out.append(offset, '\0');
  return out;
}

// A transformers config.json of a llama-shaped model.
inline std::string LlamaConfigJson(int layers = 2, int hidden = 64, int heads = 4, int kv_heads = 2,
                                   int context = 256) {
  boost::json::object c;
  c["architectures"] = boost::json::array{"LlamaForCausalLM"};
  c["model_type"] = "llama";
  c["num_hidden_layers"] = layers;
  c["hidden_size"] = hidden;
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = kv_heads;
  c["max_position_embeddings"] = context;
  c["torch_dtype"] = "bfloat16";
  return boost::json::serialize(c);
}

}  // namespace populi::models::testing
