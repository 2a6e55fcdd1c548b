// general.file_type → quantisation name: llama.cpp's llama_ftype values (llama.h), named as its
// quantize tool names them. Values 4–6 and 33–35 were retired from the format.
#include <array>
#include <string_view>

#include "models/scan/gguf.h"

namespace populi::models::scan {
namespace {

struct FileTypeName {
  uint32_t value;
  std::string_view name;
};

constexpr std::array<FileTypeName, 33> kFileTypeNames{{
    {0, "F32"},      {1, "F16"},      {2, "Q4_0"},       {3, "Q4_1"},    {7, "Q8_0"},
    {8, "Q5_0"},     {9, "Q5_1"},     {10, "Q2_K"},      {11, "Q3_K_S"}, {12, "Q3_K_M"},
    {13, "Q3_K_L"},  {14, "Q4_K_S"},  {15, "Q4_K_M"},    {16, "Q5_K_S"}, {17, "Q5_K_M"},
    {18, "Q6_K"},    {19, "IQ2_XXS"}, {20, "IQ2_XS"},    {21, "Q2_K_S"}, {22, "IQ3_XS"},
    {23, "IQ3_XXS"}, {24, "IQ1_S"},   {25, "IQ4_NL"},    {26, "IQ3_S"},  {27, "IQ3_M"},
    {28, "IQ2_S"},   {29, "IQ2_M"},   {30, "IQ4_XS"},    {31, "IQ1_M"},  {32, "BF16"},
    {36, "TQ1_0"},   {37, "TQ2_0"},   {38, "MXFP4_MOE"},
}};

// Set on a file type llama.cpp guessed from the tensors rather than read from the file.
constexpr uint32_t kFileTypeGuessed = 1024;

}  // namespace

std::string GgufFileTypeName(uint32_t file_type) {
  const uint32_t base = file_type & ~kFileTypeGuessed;
  for (const auto& [value, name] : kFileTypeNames)
    if (value == base) return std::string(name);
  return "file_type_" + std::to_string(file_type);
}

}  // namespace populi::models::scan
