#include "probe/sysfs.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace populi::probe::internal {

std::string JoinRoot(std::string_view root, std::string_view rel) {
  std::string out(root);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  out += '/';
  out += rel;
  return out;
}

std::optional<std::string> ReadSmallFile(const std::string& path, int* errno_out) {
  *errno_out = 0;
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    *errno_out = errno;
    return std::nullopt;
  }
  std::string text;
  char buf[1024];
  while (text.size() < 64 * 1024) {
    size_t n = std::fread(buf, 1, sizeof(buf), f);
    text.append(buf, n);
    if (n < sizeof(buf)) break;
  }
  int read_error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (read_error != 0) {
    *errno_out = read_error;
    return std::nullopt;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t' ||
                           text.back() == '\r' || text.back() == '\0')) {
    text.pop_back();
  }
  return text;
}

std::optional<uint64_t> ParseHexId(std::string_view text) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
  }
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::string NormalizePciBusId(std::string_view text) {
  // Split "domain:bus:device.function"; the domain is optional.
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= lower.size(); ++i) {
    if (i == lower.size() || lower[i] == ':') {
      parts.push_back(lower.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() == 2) parts.insert(parts.begin(), "0");
  if (parts.size() != 3) return {};
  size_t dot = parts[2].find('.');
  if (dot == std::string::npos) return {};
  auto domain = ParseHexId(parts[0]);
  auto bus = ParseHexId(parts[1]);
  auto device = ParseHexId(parts[2].substr(0, dot));
  auto function = ParseHexId(parts[2].substr(dot + 1));
  if (!domain || !bus || !device || !function || *domain > 0xffff || *bus > 0xff ||
      *device > 0x1f || *function > 0x7) {
    return {};
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%x", static_cast<unsigned>(*domain),
                static_cast<unsigned>(*bus), static_cast<unsigned>(*device),
                static_cast<unsigned>(*function));
  return buf;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

std::optional<uint64_t> ReadHexFile(const std::string& path) {
  int err = 0;
  auto text = ReadSmallFile(path, &err);
  if (!text) return std::nullopt;
  return ParseHexId(*text);
}

}  // namespace

bool PciVendorPresent(std::string_view root, uint64_t vendor_id) {
  const std::string pci = JoinRoot(root, "sys/bus/pci/devices");
  for (const auto& dev : ListDir(pci)) {
    if (ReadHexFile(pci + "/" + dev + "/vendor") == vendor_id) return true;
  }
  const std::string drm = JoinRoot(root, "sys/class/drm");
  for (const auto& node : ListDir(drm)) {
    if (ReadHexFile(drm + "/" + node + "/device/vendor") == vendor_id) return true;
  }
  return false;
}

bool AnyGpuHardwarePresent(std::string_view root) {
  for (const auto& node : ListDir(JoinRoot(root, "sys/class/drm"))) {
    if (node.rfind("card", 0) == 0 || node.rfind("renderD", 0) == 0) return true;
  }
  const std::string pci = JoinRoot(root, "sys/bus/pci/devices");
  for (const auto& dev : ListDir(pci)) {
    auto cls = ReadHexFile(pci + "/" + dev + "/class");
    // PCI base class 0x03 = display controller, 0x12 = processing accelerator.
    if (cls && ((*cls >> 16) == 0x03 || (*cls >> 16) == 0x12)) return true;
  }
  return false;
}

std::string_view VendorName(uint64_t pci_vendor_id) {
  switch (pci_vendor_id) {
    case kPciVendorNvidia:
      return "nvidia";
    case kPciVendorAmd:
      return "amd";
    case kPciVendorIntel:
      return "intel";
    case 0x106b:
      return "apple";
    default:
      return "unknown";
  }
}

}  // namespace populi::probe::internal
