// linux_drm: GPUs from the kernel's DRM class in sysfs, plus the NVIDIA kernel module's procfs
// files. Needs no library, so it is the floor of GPU truth on Linux: vendor / device ids, the
// bound driver, the PCI bus id, and VRAM where the driver exports it (amdgpu).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "probe/probes.h"
#include "probe/sysfs.h"

namespace populi::probe {
namespace {

using internal::JoinRoot;
using internal::ListDir;
using internal::ParseDecimal;
using internal::ParseHexId;
using internal::ReadSmallFile;

constexpr std::string_view kDrmName = "linux_drm";

bool IsDrmNode(const std::string& name) {
  auto digits_after = [&](std::string_view prefix) {
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return false;
    for (size_t i = prefix.size(); i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return false;
    }
    return true;
  };
  // card0-DP-1 style connector entries are skipped by the digit rule.
  return digits_after("card") || digits_after("renderD");
}

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ReadLinkBasename(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return Basename(buf);
}

// The first token that looks like a version number (digits and dots, at least one dot).
std::string FirstVersionToken(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    std::string token = text.substr(start, i - start);
    bool digits_and_dots = !token.empty() && token.find('.') != std::string::npos;
    for (char c : token) digits_and_dots = digits_and_dots && ((c >= '0' && c <= '9') || c == '.');
    if (digits_and_dots) return token;
    if (i < text.size() && text[i] == '\n') ++i;
  }
  return {};
}

std::string ValueAfterKey(const std::string& text, std::string_view key) {
  size_t pos = text.find(key);
  if (pos == std::string::npos) return {};
  pos += key.size();
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  size_t end = text.find('\n', pos);
  std::string value = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  return value;
}

class LinuxDrmProbe final : public HardwareProbe {
 public:
  explicit LinuxDrmProbe(std::string root) : root_(std::move(root)) {}
  std::string_view name() const override { return kDrmName; }
  bool applicable() const override {
#ifdef __linux__
    return true;
#else
    return false;
#endif
  }

  ProbeResult Probe() override {
    std::string nvidia_driver;
    if (auto failed = ReadNvidiaDriverVersion(nvidia_driver)) return std::move(*failed);
    const std::string drm = JoinRoot(root_, "sys/class/drm");
    std::map<std::string, mesh::GpuDevice> by_bus;  // ordered by bus id: stable output
    for (const auto& node : ListDir(drm)) {
      if (!IsDrmNode(node)) continue;
      if (auto failed = AddDrmNode(drm, node, nvidia_driver, by_bus)) return std::move(*failed);
    }
    AddProcfsNvidiaGpus(nvidia_driver, by_bus);
    if (by_bus.empty()) {
      return ProbeResult::NoDevice("no DRM card or render node with a PCI device under " + drm);
    }
    std::vector<mesh::GpuDevice> gpus;
    gpus.reserve(by_bus.size());
    for (auto& [bus, gpu] : by_bus) gpus.push_back(std::move(gpu));
    return ProbeResult::FoundGpus(std::move(gpus));
  }

 private:
  // The NVIDIA kernel module's version from procfs ("" without the module); a failure only when
  // the file is there but unreadable.
  std::optional<ProbeResult> ReadNvidiaDriverVersion(std::string& version) const {
    const std::string path = JoinRoot(root_, "proc/driver/nvidia/version");
    int err = 0;
    if (auto v = ReadSmallFile(path, &err)) {
      version = FirstVersionToken(ValueAfterKey(*v, "Kernel Module"));
      if (version.empty()) version = FirstVersionToken(*v);
    } else if (err == EACCES) {
      return PermissionFailure(path);
    }
    return std::nullopt;
  }

  // Adds the GPU behind DRM node `node` (card0, renderD128) unless it has no PCI vendor or is
  // already there through its other node; a failure when its files cannot be read.
  std::optional<ProbeResult> AddDrmNode(const std::string& drm, const std::string& node,
                                        const std::string& nvidia_driver,
                                        std::map<std::string, mesh::GpuDevice>& by_bus) const {
    const std::string dev = drm + "/" + node + "/device";
    int err = 0;
    auto vendor_text = ReadSmallFile(dev + "/vendor", &err);
    if (!vendor_text) {
      if (err == ENOENT) return std::nullopt;  // a virtual DRM device without a PCI parent (vgem…)
      if (err == EACCES) return PermissionFailure(dev + "/vendor");
      return ProbeResult::Failed(kDrmName, kFailureError,
                                 "cannot read " + dev + "/vendor: " + std::strerror(err),
                                 "check that sysfs is mounted and readable at " + drm);
    }
    auto vendor = ParseHexId(*vendor_text);
    if (!vendor) return std::nullopt;
    const std::string bus = DrmBusId(dev, node);
    if (by_bus.count(bus) != 0) return std::nullopt;  // card0 and renderD128 of the same GPU

    mesh::GpuDevice gpu;
    gpu.source = std::string(kDrmName);
    gpu.vendor = std::string(internal::VendorName(*vendor));
    gpu.pci_bus_id = bus.rfind("drm:", 0) == 0 ? std::string() : bus;
    uint64_t device_id = 0;
    if (auto d = ReadSmallFile(dev + "/device", &err)) device_id = ParseHexId(*d).value_or(0);
    const std::string driver = ReadLinkBasename(dev + "/driver");
    char ids[32];
    std::snprintf(ids, sizeof(ids), "%04x:%04x", static_cast<unsigned>(*vendor),
                  static_cast<unsigned>(device_id));
    gpu.uuid = std::string(ids) + "@" + bus;
    if (driver == "amdgpu") {
      if (auto failed = ReadAmdgpuVram(dev, gpu)) return failed;
    }
    if (*vendor == internal::kPciVendorNvidia) gpu.driver_version = nvidia_driver;
    gpu.name = DeviceName(dev, gpu, ids, driver);
    by_bus.emplace(bus, std::move(gpu));
    return std::nullopt;
  }

  // The PCI bus id of a DRM node's device: the device link's name, else the uevent's
  // PCI_SLOT_NAME, else "drm:<node>" (no PCI address: still one device per node).
  static std::string DrmBusId(const std::string& dev, const std::string& node) {
    std::string bus = internal::NormalizePciBusId(ReadLinkBasename(dev));
    int err = 0;
    if (bus.empty()) {
      if (auto uevent = ReadSmallFile(dev + "/uevent", &err)) {
        bus = internal::NormalizePciBusId(ValueAfterKey(*uevent, "PCI_SLOT_NAME="));
      }
    }
    return bus.empty() ? "drm:" + node : bus;
  }

  // amdgpu exports VRAM size and use; unreadable (permission) files fail the probe.
  static std::optional<ProbeResult> ReadAmdgpuVram(const std::string& dev, mesh::GpuDevice& gpu) {
    int err = 0;
    auto total = ReadSmallFile(dev + "/mem_info_vram_total", &err);
    if (!total && err == EACCES) return PermissionFailure(dev + "/mem_info_vram_total");
    auto used = ReadSmallFile(dev + "/mem_info_vram_used", &err);
    if (!used && err == EACCES) return PermissionFailure(dev + "/mem_info_vram_used");
    gpu.memory_total_bytes = total ? ParseDecimal(*total).value_or(0) : 0;
    gpu.memory_used_bytes = used ? ParseDecimal(*used).value_or(0) : 0;
    if (gpu.memory_used_bytes > gpu.memory_total_bytes) gpu.memory_used_bytes = 0;
    gpu.memory_free_bytes = gpu.memory_total_bytes - gpu.memory_used_bytes;
    return std::nullopt;
  }

  // The product name where the driver exports one, NVIDIA's procfs model, else a made-up
  // "<Vendor> GPU [vvvv:dddd] (driver)".
  std::string DeviceName(const std::string& dev, const mesh::GpuDevice& gpu, const char* ids,
                         const std::string& driver) const {
    int err = 0;
    if (auto product = ReadSmallFile(dev + "/product_name", &err); product && !product->empty()) {
      return *product;
    }
    if (gpu.vendor == "nvidia") {
      if (std::string model = NvidiaModel(gpu.pci_bus_id); !model.empty()) return model;
    }
    return DisplayVendor(gpu.vendor) + " GPU [" + ids + "]" +
           (driver.empty() ? std::string() : " (" + driver + ")");
  }

  // The proprietary NVIDIA driver without nvidia-drm loaded has no DRM node; its procfs
  // directory still lists every GPU by bus id.
  void AddProcfsNvidiaGpus(const std::string& nvidia_driver,
                           std::map<std::string, mesh::GpuDevice>& by_bus) const {
    if (nvidia_driver.empty()) return;
    for (const auto& entry : ListDir(JoinRoot(root_, "proc/driver/nvidia/gpus"))) {
      std::string bus = internal::NormalizePciBusId(entry);
      if (bus.empty() || by_bus.count(bus) != 0) continue;
      mesh::GpuDevice gpu;
      gpu.source = std::string(kDrmName);
      gpu.vendor = "nvidia";
      gpu.pci_bus_id = bus;
      gpu.uuid = "10de:0000@" + bus;
      gpu.name = NvidiaModel(bus);
      if (gpu.name.empty()) gpu.name = "NVIDIA GPU";
      gpu.driver_version = nvidia_driver;
      by_bus.emplace(bus, std::move(gpu));
    }
  }

  static std::string DisplayVendor(const std::string& vendor) {
    if (vendor == "nvidia") return "NVIDIA";
    if (vendor == "amd") return "AMD";
    if (vendor == "intel") return "Intel";
    if (vendor == "apple") return "Apple";
    return "Unknown";
  }

  std::string NvidiaModel(const std::string& bus) const {
    if (bus.empty()) return {};
    int err = 0;
    auto info =
        ReadSmallFile(JoinRoot(root_, "proc/driver/nvidia/gpus/" + bus + "/information"), &err);
    return info ? ValueAfterKey(*info, "Model:") : std::string();
  }

  static ProbeResult PermissionFailure(const std::string& path) {
    return ProbeResult::Failed(
        kDrmName, kFailurePermissionDenied, "permission denied reading " + path,
        "run vox as a user in the 'video' and 'render' groups (usermod -aG video,render USER), "
        "or relax the file's mode");
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<HardwareProbe> MakeLinuxDrmProbe(std::string sysfs_root) {
  return std::make_unique<LinuxDrmProbe>(std::move(sysfs_root));
}

}  // namespace populi::probe
