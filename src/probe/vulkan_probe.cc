// vulkan: GPUs through the Vulkan loader (libvulkan.so.1), loaded with dlopen per probe. Gives
// physical devices of every vendor, device-local heap sizes, the PCI bus id (VK_EXT_pci_bus_info)
// and the live memory budget (VK_EXT_memory_budget) where the driver offers them.
#include <cstdio>
#include <cstring>
#include <string>
#include <variant>

#include "probe/dl_library.h"
#include "probe/probes.h"
#include "probe/sysfs.h"
#include "probe/vulkan_abi.h"

namespace populi::probe {
namespace {

using namespace vk;  // NOLINT(google-build-using-namespace): the Vulkan ABI names

constexpr std::string_view kVulkanName = "vulkan";

struct VulkanApi {
  PFN_vkGetInstanceProcAddr get_proc = nullptr;
  PFN_vkCreateInstance create_instance = nullptr;
  PFN_vkDestroyInstance destroy_instance = nullptr;
  PFN_vkEnumeratePhysicalDevices enumerate_devices = nullptr;
  PFN_vkGetPhysicalDeviceProperties properties = nullptr;
  PFN_vkGetPhysicalDeviceProperties2 properties2 = nullptr;
  PFN_vkGetPhysicalDeviceMemoryProperties memory = nullptr;
  PFN_vkGetPhysicalDeviceMemoryProperties2 memory2 = nullptr;
  PFN_vkEnumerateDeviceExtensionProperties extensions = nullptr;
};

bool HasExtension(const VulkanApi& api, VkPhysicalDevice dev, const char* name) {
  if (api.extensions == nullptr) return false;
  uint32_t count = 0;
  if (api.extensions(dev, nullptr, &count, nullptr) != kSuccess || count == 0) return false;
  std::vector<VkExtensionProperties> props(count);
  VkResult rc = api.extensions(dev, nullptr, &count, props.data());
  if (rc != kSuccess && rc != kIncomplete) return false;
  for (uint32_t i = 0; i < count && i < props.size(); ++i) {
    props[i].extensionName[sizeof(props[i].extensionName) - 1] = '\0';
    if (std::strcmp(props[i].extensionName, name) == 0) return true;
  }
  return false;
}

// Entry points through vkGetInstanceProcAddr for `instance` (null: the global ones), with the
// loader's own export of the same name where it gives none.
internal::SymbolTable InstanceSymbols(const internal::DlLibrary& lib,
                                      PFN_vkGetInstanceProcAddr get_proc, VkInstance instance) {
  return internal::SymbolTable([&lib, get_proc, instance](const char* name) -> void* {
    if (PFN_vkVoidFunction fn = get_proc(instance, name)) return reinterpret_cast<void*>(fn);
    return lib.RawSymbol(name);
  });
}

// The physical devices of `instance`, or the failure that stops the probe.
std::variant<std::vector<VkPhysicalDevice>, ProbeResult> ListDevices(const VulkanApi& api,
                                                                     VkInstance instance) {
  auto failed = [](VkResult rc) {
    return ProbeResult::Failed(
        kVulkanName, kFailureError,
        "vkEnumeratePhysicalDevices failed with VkResult " + std::to_string(rc),
        "run `vulkaninfo --summary` to see what the loader reports");
  };
  uint32_t count = 0;
  VkResult rc = api.enumerate_devices(instance, &count, nullptr);
  if (rc != kSuccess) return failed(rc);
  std::vector<VkPhysicalDevice> devices(count);
  if (count > 0) {
    rc = api.enumerate_devices(instance, &count, devices.data());
    if (rc != kSuccess && rc != kIncomplete) return failed(rc);
    devices.resize(count);
  }
  return devices;
}

class VulkanProbe final : public internal::LibraryProbe {
 public:
  VulkanProbe(std::string library, std::string root)
      : LibraryProbe(std::move(library), std::move(root)) {}
  std::string_view name() const override { return kVulkanName; }

 protected:
  bool HardwarePresent() const override { return internal::AnyGpuHardwarePresent(sysfs_root()); }
  std::string NoHardwareDetail() const override {
    return "no GPU on the PCI bus and " + library() + " is not installed";
  }
  std::string InstallHint() const override {
    return "install the Vulkan loader and drivers (Debian: apt install libvulkan1 "
           "mesa-vulkan-drivers), or drop vulkan from mesh.probe.order";
  }

  ProbeResult ProbeLibrary(const internal::DlLibrary& lib) override {
    VulkanApi api;
    internal::SymbolTable exported(lib);
    exported.Required(api.get_proc, "vkGetInstanceProcAddr");
    if (!exported.complete()) {
      return MissingSymbol(exported, "not a Vulkan loader", "reinstall libvulkan1");
    }
    internal::SymbolTable global = InstanceSymbols(lib, api.get_proc, nullptr);
    global.Required(api.create_instance, "vkCreateInstance");
    if (!global.complete())
      return MissingSymbol(global, "not a Vulkan loader", "reinstall libvulkan1");

    VkInstance instance = nullptr;
    VkResult rc = CreateInstance(api, &instance);
    if (rc == kErrorIncompatibleDriver) {
      if (!HardwarePresent()) {
        return ProbeResult::NoDevice("the Vulkan loader found no driver (ICD) and no GPU");
      }
      return ProbeResult::Failed(kVulkanName, kFailureDriverMismatch,
                                 "vkCreateInstance: no compatible Vulkan driver (ICD)",
                                 "install the GPU's Vulkan driver (mesa-vulkan-drivers, or the "
                                 "vendor driver's Vulkan ICD)");
    }
    if (rc != kSuccess || instance == nullptr) {
      return ProbeResult::Failed(kVulkanName, kFailureError,
                                 "vkCreateInstance failed with VkResult " + std::to_string(rc),
                                 "run `vulkaninfo --summary` to see what the loader reports");
    }
    ProbeResult result = ProbeInstance(lib, api, instance);
    if (api.destroy_instance != nullptr) api.destroy_instance(instance, nullptr);
    return result;
  }

 private:
  static VkResult CreateInstance(const VulkanApi& api, VkInstance* instance) {
    VkApplicationInfo app{};
    app.sType = kStructureTypeApplicationInfo;
    app.pApplicationName = "vox-probe";
    app.pEngineName = "populi";
    app.apiVersion = kApiVersion11;
    VkInstanceCreateInfo info{};
    info.sType = kStructureTypeInstanceCreateInfo;
    info.pApplicationInfo = &app;
    return api.create_instance(&info, nullptr, instance);
  }

  ProbeResult ProbeInstance(const internal::DlLibrary& lib, VulkanApi& api,
                            VkInstance instance) const {
    internal::SymbolTable symbols = InstanceSymbols(lib, api.get_proc, instance);
    symbols.Required(api.destroy_instance, "vkDestroyInstance");
    symbols.Required(api.enumerate_devices, "vkEnumeratePhysicalDevices");
    symbols.Required(api.properties, "vkGetPhysicalDeviceProperties");
    symbols.Optional(api.properties2, "vkGetPhysicalDeviceProperties2");
    symbols.Required(api.memory, "vkGetPhysicalDeviceMemoryProperties");
    symbols.Optional(api.memory2, "vkGetPhysicalDeviceMemoryProperties2");
    symbols.Optional(api.extensions, "vkEnumerateDeviceExtensionProperties");
    if (!symbols.complete()) {
      return MissingSymbol(symbols, "not a Vulkan 1.0 loader", "reinstall libvulkan1");
    }
    auto listed = ListDevices(api, instance);
    if (auto* failed = std::get_if<ProbeResult>(&listed)) return std::move(*failed);
    const auto& devices = std::get<std::vector<VkPhysicalDevice>>(listed);
    std::vector<mesh::GpuDevice> gpus;
    for (size_t i = 0; i < devices.size(); ++i) {
      if (auto gpu = DescribeDevice(api, devices[i], i)) gpus.push_back(std::move(*gpu));
    }
    if (gpus.empty()) return ProbeResult::NoDevice("Vulkan lists no GPU (CPU renderers ignored)");
    return ProbeResult::FoundGpus(std::move(gpus));
  }

  static std::optional<mesh::GpuDevice> DescribeDevice(const VulkanApi& api, VkPhysicalDevice dev,
                                                       size_t index) {
    VkPhysicalDeviceProperties2 props2{};
    props2.sType = kStructureTypePhysicalDeviceProperties2;
    VkPhysicalDevicePCIBusInfoPropertiesEXT pci{};
    pci.sType = kStructureTypePciBusInfoPropertiesExt;
    bool have_pci = false;
    if (api.properties2 != nullptr) {
      have_pci = HasExtension(api, dev, "VK_EXT_pci_bus_info");
      if (have_pci) props2.pNext = &pci;
      api.properties2(dev, &props2);
    } else {
      api.properties(dev, &props2.properties);
    }
    const VkPhysicalDeviceProperties& p = props2.properties;
    if (p.deviceType == kTypeCpu) return std::nullopt;  // llvmpipe / lavapipe

    mesh::GpuDevice gpu;
    char name[257];
    std::memcpy(name, p.deviceName, sizeof(p.deviceName));
    name[256] = '\0';
    gpu.name = name;
    gpu.vendor = std::string(internal::VendorName(p.vendorID));
    char ids[32];
    std::snprintf(ids, sizeof(ids), "%04x:%04x", p.vendorID & 0xffff, p.deviceID & 0xffff);
    if (have_pci) {
      char bus[32];
      std::snprintf(bus, sizeof(bus), "%04x:%02x:%02x.%x", pci.pciDomain & 0xffff,
                    pci.pciBus & 0xff, pci.pciDevice & 0x1f, pci.pciFunction & 0x7);
      gpu.pci_bus_id = bus;
      gpu.uuid = std::string(ids) + "@" + gpu.pci_bus_id;
    } else {
      gpu.uuid = std::string(ids) + "@vulkan" + std::to_string(index);
    }

    VkPhysicalDeviceMemoryProperties2 mem2{};
    mem2.sType = kStructureTypePhysicalDeviceMemoryProperties2;
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{};
    budget.sType = kStructureTypeMemoryBudgetPropertiesExt;
    bool have_budget = false;
    if (api.memory2 != nullptr) {
      have_budget = HasExtension(api, dev, "VK_EXT_memory_budget");
      if (have_budget) mem2.pNext = &budget;
      api.memory2(dev, &mem2);
    } else {
      api.memory(dev, &mem2.memoryProperties);
    }
    const VkPhysicalDeviceMemoryProperties& m = mem2.memoryProperties;
    for (uint32_t h = 0; h < m.memoryHeapCount && h < kMaxMemoryHeaps; ++h) {
      if ((m.memoryHeaps[h].flags & kMemoryHeapDeviceLocalBit) == 0) continue;
      gpu.memory_total_bytes += m.memoryHeaps[h].size;
      if (have_budget) {
        uint64_t used = budget.heapUsage[h];
        uint64_t available = budget.heapBudget[h] > used ? budget.heapBudget[h] - used : 0;
        gpu.memory_used_bytes += used;
        gpu.memory_free_bytes += available;
      }
    }
    // Without VK_EXT_memory_budget Vulkan cannot tell what is in use (docs/probes.md).
    if (!have_budget) gpu.memory_free_bytes = gpu.memory_total_bytes;
    return gpu;
  }
};

}  // namespace

std::unique_ptr<HardwareProbe> MakeVulkanProbe(std::string library, std::string sysfs_root) {
  return std::make_unique<VulkanProbe>(std::move(library), std::move(sysfs_root));
}

}  // namespace populi::probe
