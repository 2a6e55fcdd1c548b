#include "models/scan/gguf.h"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

namespace populi::models::scan {
namespace {

constexpr std::string_view kGgufHint = "the file is not a readable GGUF model; re-download it";

// GGUF metadata value types.
enum GgufType : uint32_t {
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

// Bytes of a fixed-size value type; 0 for strings, arrays and unknown types.
size_t GgufScalarSize(uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

// One fixed-size value, widened.
struct GgufScalar {
  bool is_float = false;
  bool negative = false;
  uint64_t u = 0;  // integers (and bool) when !negative
  double d = 0;    // every numeric value
};

// The "<architecture>.<suffix>" keys the inventory keeps; any architecture prefix is collected
// (general.architecture may come after them) and resolved once the header is read.
constexpr std::array<std::string_view, 7> kArchSuffixes = {
    "context_length",          "block_count",
    "embedding_length",        "attention.head_count",
    "attention.head_count_kv", "attention.key_length",
    "attention.value_length"};
constexpr size_t kMaxArchValues = 256;

enum class Want { kSkip, kString, kUnsigned, kNumber };

class GgufParser {
 public:
  explicit GgufParser(ByteReader& in) : in_(in) {}

  Result<GgufInfo> Parse() {
    POPULI_RETURN_IF_ERROR(Header());
    for (uint64_t i = 0; i < info_.kv_count; ++i) POPULI_RETURN_IF_ERROR(KeyValue());
    for (uint64_t i = 0; i < info_.tensor_count; ++i) POPULI_RETURN_IF_ERROR(TensorInfo());
    ResolveArchValues();
    return info_;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument("GGUF offset " + std::to_string(in_.offset()) + ": " + what,
                           std::string(kGgufHint));
  }
  Status Truncated(const std::string& what) const { return Error("truncated in " + what); }

  template <typename T>
  Status Le(T& out, const char* what) {
    if (!in_.ReadLe(out)) return Truncated(what);
    return Status::Ok();
  }

  Status Header() {
    char magic[4];
    if (!in_.Read(magic, 4)) return Truncated("the magic");
    if (std::string_view(magic, 4) != "GGUF") return Error("not a GGUF file (bad magic)");
    POPULI_RETURN_IF_ERROR(Le(info_.version, "the version"));
    if (info_.version == 0x02000000u || info_.version == 0x03000000u)
      return Error("big-endian GGUF is not supported");
    if (info_.version != 2 && info_.version != 3)
      return Error("GGUF version " + std::to_string(info_.version) + " is not supported (2, 3)");
    POPULI_RETURN_IF_ERROR(Le(info_.tensor_count, "the tensor count"));
    POPULI_RETURN_IF_ERROR(Le(info_.kv_count, "the metadata count"));
    // A key/value takes at least 13 bytes (length, type, one byte); a tensor info 24.
    if (info_.kv_count > kGgufMaxKv || info_.kv_count > in_.remaining() / 13)
      return Error("metadata count " + std::to_string(info_.kv_count) + " does not fit the file");
    if (info_.tensor_count > kGgufMaxTensors ||
        info_.tensor_count > (in_.remaining() - info_.kv_count * 13) / 24)
      return Error("tensor count " + std::to_string(info_.tensor_count) + " does not fit the file");
    return Status::Ok();
  }

  // A GGUF string's length, checked against `max` and the remaining bytes.
  Status StringLength(uint64_t& len, uint64_t max, const char* what) {
    POPULI_RETURN_IF_ERROR(Le(len, what));
    if (len > max)
      return Error(std::string(what) + " of " + std::to_string(len) + " bytes is over the limit");
    if (len > in_.remaining()) return Truncated(what);
    return Status::Ok();
  }

  Want WantOf(std::string_view key) {
    if (key == "general.architecture" || key == "general.name" || key == "general.type")
      return Want::kString;
    if (key == "general.file_type") return Want::kUnsigned;
    if (key == "adapter.lora.alpha") return Want::kNumber;
    for (std::string_view suffix : kArchSuffixes) {
      if (key.size() > suffix.size() + 1 && key.ends_with(suffix) &&
          key[key.size() - suffix.size() - 1] == '.')
        return Want::kUnsigned;
    }
    return Want::kSkip;
  }

  Status KeyValue() {
    uint64_t len = 0;
    POPULI_RETURN_IF_ERROR(StringLength(len, kGgufMaxKeyBytes, "a metadata key"));
    std::string key;
    if (!in_.ReadString(len, key)) return Truncated("a metadata key");
    uint32_t type = 0;
    POPULI_RETURN_IF_ERROR(Le(type, "a value type"));
    const Want want = WantOf(key);
    if (type == kString) return StringValue(key, want);
    if (type == kArray) {
      std::optional<uint64_t> largest;
      POPULI_RETURN_IF_ERROR(Array(1, want == Want::kUnsigned ? &largest : nullptr));
      if (largest) Keep(key, *largest);
      return Status::Ok();
    }
    GgufScalar v;
    POPULI_RETURN_IF_ERROR(Scalar(type, v));
    if (want == Want::kNumber && key == "adapter.lora.alpha") info_.lora_alpha = v.d;
    if (want == Want::kUnsigned && !v.is_float && !v.negative) Keep(key, v.u);
    return Status::Ok();
  }

  Status StringValue(const std::string& key, Want want) {
    uint64_t len = 0;
    POPULI_RETURN_IF_ERROR(StringLength(len, UINT64_MAX, "a string value"));
    if (want != Want::kString || len > kGgufMaxKeptStringBytes) {
      in_.Skip(len);
      return Status::Ok();
    }
    std::string value;
    if (!in_.ReadString(len, value)) return Truncated("a string value");
    if (key == "general.architecture") info_.architecture = std::move(value);
    if (key == "general.name") info_.name = std::move(value);
    if (key == "general.type") info_.type = std::move(value);
    return Status::Ok();
  }

  Status Scalar(uint32_t type, GgufScalar& v) {
    const size_t size = GgufScalarSize(type);
    if (size == 0) return Error("unknown value type " + std::to_string(type));
    unsigned char raw[8] = {};
    if (!in_.Read(raw, size)) return Truncated("a value");
    uint64_t bits = 0;
    std::memcpy(&bits, raw, size);
    switch (type) {
      case kI8:
      case kI16:
      case kI32:
      case kI64: {
        const int shift = 64 - static_cast<int>(size) * 8;
        const int64_t s = static_cast<int64_t>(bits << shift) >> shift;  // sign-extend
        v.negative = s < 0;
        v.u = v.negative ? 0 : static_cast<uint64_t>(s);
        v.d = static_cast<double>(s);
        break;
      }
      case kF32: {
        float f = 0;
        std::memcpy(&f, raw, 4);
        v.is_float = true;
        v.d = f;
        break;
      }
      case kF64:
        v.is_float = true;
        std::memcpy(&v.d, raw, 8);
        break;
      default:
        v.u = bits;
        v.d = static_cast<double>(bits);
    }
    return Status::Ok();
  }

  // An array value; with `largest`, its largest non-negative integer element is kept there.
  Status Array(uint32_t depth, std::optional<uint64_t>* largest) {
    if (depth > kGgufMaxArrayNesting) return Error("arrays nested too deep");
    uint32_t type = 0;
    uint64_t count = 0;
    POPULI_RETURN_IF_ERROR(Le(type, "an array type"));
    POPULI_RETURN_IF_ERROR(Le(count, "an array length"));
    const size_t size = GgufScalarSize(type);
    // Each element takes at least its fixed size, 8 bytes (a string) or 12 (an array).
    const uint64_t min_element = size != 0 ? size : type == kString ? 8 : 12;
    if (type != kString && type != kArray && size == 0)
      return Error("unknown array element type " + std::to_string(type));
    if (count > kGgufMaxArrayElements || count > in_.remaining() / min_element)
      return Error("array of " + std::to_string(count) + " elements does not fit the file");
    if (size != 0 && largest == nullptr) {
      in_.Skip(count * size);
      return Status::Ok();
    }
    for (uint64_t i = 0; i < count; ++i) {
      if (type == kString) {
        uint64_t len = 0;
        POPULI_RETURN_IF_ERROR(StringLength(len, UINT64_MAX, "an array string"));
        in_.Skip(len);
      } else if (type == kArray) {
        POPULI_RETURN_IF_ERROR(Array(depth + 1, nullptr));
      } else {
        GgufScalar v;
        POPULI_RETURN_IF_ERROR(Scalar(type, v));
        if (!v.is_float && !v.negative && (!*largest || v.u > **largest)) *largest = v.u;
      }
    }
    return Status::Ok();
  }

  void Keep(const std::string& key, uint64_t value) {
    if (key == "general.file_type") {
      if (value <= UINT32_MAX) info_.file_type = static_cast<uint32_t>(value);
      return;
    }
    if (arch_values_.size() < kMaxArchValues || arch_values_.count(key)) arch_values_[key] = value;
  }

  Status TensorInfo() {
    uint64_t len = 0;
    POPULI_RETURN_IF_ERROR(StringLength(len, kGgufMaxKeyBytes, "a tensor name"));
    in_.Skip(len);
    uint32_t dims = 0;
    POPULI_RETURN_IF_ERROR(Le(dims, "a tensor's dimension count"));
    if (dims > kGgufMaxDims)
      return Error("tensor with " + std::to_string(dims) + " dimensions (at most 4)");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      uint64_t extent = 0;
      POPULI_RETURN_IF_ERROR(Le(extent, "a tensor's shape"));
      if (__builtin_mul_overflow(elements, extent, &elements))
        return Error("tensor element count overflows");
    }
    uint32_t ggml_type = 0;
    uint64_t data_offset = 0;
    POPULI_RETURN_IF_ERROR(Le(ggml_type, "a tensor's type"));
    POPULI_RETURN_IF_ERROR(Le(data_offset, "a tensor's offset"));
    if (__builtin_add_overflow(info_.parameter_count, elements, &info_.parameter_count))
      return Error("parameter count overflows");
    return Status::Ok();
  }

  void ResolveArchValues() {
    if (info_.architecture.empty()) return;
    auto get = [this](std::string_view suffix) -> std::optional<uint64_t> {
      auto it = arch_values_.find(info_.architecture + "." + std::string(suffix));
      if (it == arch_values_.end()) return std::nullopt;
      return it->second;
    };
    info_.context_length = get(kArchSuffixes[0]);
    info_.block_count = get(kArchSuffixes[1]);
    info_.embedding_length = get(kArchSuffixes[2]);
    info_.head_count = get(kArchSuffixes[3]);
    info_.head_count_kv = get(kArchSuffixes[4]);
    info_.key_length = get(kArchSuffixes[5]);
    info_.value_length = get(kArchSuffixes[6]);
  }

  ByteReader& in_;
  GgufInfo info_;
  std::map<std::string, uint64_t> arch_values_;
};

}  // namespace

Result<GgufInfo> ParseGguf(ByteReader& in) {
  return GgufParser(in).Parse();
}

}  // namespace populi::models::scan
