// A stand-in Vulkan loader for tests: exports the entry points the vulkan probe resolves, so the
// probe's real dlopen / dlsym / vkGetInstanceProcAddr path runs. Environment variables, read on
// every call:
//   FAKE_VK_CREATE_RC   VkResult of vkCreateInstance (e.g. -9 = no compatible driver)
//   FAKE_VK_NVIDIA      "1" = also list an NVIDIA GPU at 0000:01:00.0
//   FAKE_VK_NO_PCI      "1" = devices lack VK_EXT_pci_bus_info
//   FAKE_VK_NO_BUDGET   "1" = devices lack VK_EXT_memory_budget
//   FAKE_VK_LOG         a file; create / destroy append a line
// Always listed: an AMD discrete GPU at 0000:03:00.0 (24 GiB device-local heap, 4 GiB used,
// 22 GiB budget) and a CPU renderer (which the probe must skip).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "probe/vulkan_abi.h"

using namespace populi::probe::vk;  // NOLINT(google-build-using-namespace)

namespace {

struct FakePhysicalDevice {
  uint32_t vendor;
  uint32_t device;
  int32_t type;
  const char* name;
  uint32_t bus;
  uint64_t local_heap;
  uint64_t usage;
  uint64_t budget;
};

constexpr uint64_t kGiB = 1024ull * 1024 * 1024;
const FakePhysicalDevice kAmd{0x1002, 0x744c,    kTypeDiscreteGpu, "Fake Radeon RX 7900 XTX",
                              3,      24 * kGiB, 4 * kGiB,         22 * kGiB};
const FakePhysicalDevice kNvidia{0x10de, 0x2330,    kTypeDiscreteGpu, "Fake NVIDIA H100 (Vulkan)",
                                 1,      80 * kGiB, 9 * kGiB,         78 * kGiB};
const FakePhysicalDevice kCpu{0x10005, 0, kTypeCpu, "llvmpipe (LLVM 15.0.6, 256 bits)", 0, 0, 0, 0};
int g_instance_token = 0;

bool EnvOn(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

void Log(const char* line) {
  const char* path = std::getenv("FAKE_VK_LOG");
  if (path == nullptr) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", line);
    std::fclose(f);
  }
}

std::vector<const FakePhysicalDevice*> Devices() {
  std::vector<const FakePhysicalDevice*> out;
  if (EnvOn("FAKE_VK_NVIDIA")) out.push_back(&kNvidia);
  out.push_back(&kAmd);
  out.push_back(&kCpu);
  return out;
}

const FakePhysicalDevice* Of(VkPhysicalDevice d) {
  return reinterpret_cast<const FakePhysicalDevice*>(d);
}

void FillProperties(VkPhysicalDevice d, VkPhysicalDeviceProperties* p) {
  std::memset(p, 0, sizeof(*p));
  const FakePhysicalDevice* f = Of(d);
  p->apiVersion = kApiVersion11;
  p->vendorID = f->vendor;
  p->deviceID = f->device;
  p->deviceType = f->type;
  std::snprintf(p->deviceName, sizeof(p->deviceName), "%s", f->name);
}

void FillMemory(VkPhysicalDevice d, VkPhysicalDeviceMemoryProperties* m) {
  std::memset(m, 0, sizeof(*m));
  const FakePhysicalDevice* f = Of(d);
  m->memoryHeapCount = 2;
  m->memoryHeaps[0].size = f->local_heap;
  m->memoryHeaps[0].flags = f->type == kTypeCpu ? 0 : kMemoryHeapDeviceLocalBit;
  m->memoryHeaps[1].size = 32 * kGiB;  // host-visible system memory: never counted
  m->memoryTypeCount = 2;
  m->memoryTypes[1].heapIndex = 1;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) VkResult vkCreateInstance(const VkInstanceCreateInfo* info,
                                                                 const void*,
                                                                 VkInstance* instance) {
  if (info == nullptr || info->sType != kStructureTypeInstanceCreateInfo) return -3;
  const char* rc = std::getenv("FAKE_VK_CREATE_RC");
  if (rc != nullptr && rc[0] != '\0' && std::atoi(rc) != 0) return std::atoi(rc);
  *instance = reinterpret_cast<VkInstance>(&g_instance_token);
  Log("create");
  return kSuccess;
}

__attribute__((visibility("default"))) void vkDestroyInstance(VkInstance, const void*) {
  Log("destroy");
}

__attribute__((visibility("default"))) VkResult vkEnumeratePhysicalDevices(
    VkInstance, uint32_t* count, VkPhysicalDevice* devices) {
  auto list = Devices();
  if (devices == nullptr) {
    *count = static_cast<uint32_t>(list.size());
    return kSuccess;
  }
  uint32_t n = std::min<uint32_t>(*count, static_cast<uint32_t>(list.size()));
  for (uint32_t i = 0; i < n; ++i) {
    devices[i] = reinterpret_cast<VkPhysicalDevice>(const_cast<FakePhysicalDevice*>(list[i]));
  }
  *count = n;
  return n < list.size() ? kIncomplete : kSuccess;
}

__attribute__((visibility("default"))) void vkGetPhysicalDeviceProperties(
    VkPhysicalDevice d, VkPhysicalDeviceProperties* p) {
  FillProperties(d, p);
}

__attribute__((visibility("default"))) void vkGetPhysicalDeviceProperties2(
    VkPhysicalDevice d, VkPhysicalDeviceProperties2* p) {
  FillProperties(d, &p->properties);
  for (auto* next = static_cast<VkPhysicalDevicePCIBusInfoPropertiesEXT*>(p->pNext);
       next != nullptr; next = static_cast<VkPhysicalDevicePCIBusInfoPropertiesEXT*>(next->pNext)) {
    if (next->sType == kStructureTypePciBusInfoPropertiesExt) {
      next->pciDomain = 0;
      next->pciBus = Of(d)->bus;
      next->pciDevice = 0;
      next->pciFunction = 0;
    }
  }
}

__attribute__((visibility("default"))) void vkGetPhysicalDeviceMemoryProperties(
    VkPhysicalDevice d, VkPhysicalDeviceMemoryProperties* m) {
  FillMemory(d, m);
}

__attribute__((visibility("default"))) void vkGetPhysicalDeviceMemoryProperties2(
    VkPhysicalDevice d, VkPhysicalDeviceMemoryProperties2* m) {
  FillMemory(d, &m->memoryProperties);
  auto* budget = static_cast<VkPhysicalDeviceMemoryBudgetPropertiesEXT*>(m->pNext);
  if (budget != nullptr && budget->sType == kStructureTypeMemoryBudgetPropertiesExt) {
    budget->heapUsage[0] = Of(d)->usage;
    budget->heapBudget[0] = Of(d)->budget;
    budget->heapUsage[1] = 1 * kGiB;
    budget->heapBudget[1] = 16 * kGiB;
  }
}

__attribute__((visibility("default"))) VkResult vkEnumerateDeviceExtensionProperties(
    VkPhysicalDevice, const char*, uint32_t* count, VkExtensionProperties* props) {
  std::vector<const char*> names;
  if (!EnvOn("FAKE_VK_NO_PCI")) names.push_back("VK_EXT_pci_bus_info");
  if (!EnvOn("FAKE_VK_NO_BUDGET")) names.push_back("VK_EXT_memory_budget");
  names.push_back("VK_KHR_swapchain");
  if (props == nullptr) {
    *count = static_cast<uint32_t>(names.size());
    return kSuccess;
  }
  uint32_t n = std::min<uint32_t>(*count, static_cast<uint32_t>(names.size()));
  for (uint32_t i = 0; i < n; ++i) {
    std::memset(&props[i], 0, sizeof(props[i]));
    std::snprintf(props[i].extensionName, sizeof(props[i].extensionName), "%s", names[i]);
    props[i].specVersion = 1;
  }
  *count = n;
  return n < names.size() ? kIncomplete : kSuccess;
}

__attribute__((visibility("default"))) PFN_vkVoidFunction vkGetInstanceProcAddr(VkInstance,
                                                                                const char* name) {
  struct Entry {
    const char* name;
    PFN_vkVoidFunction fn;
  };
  static const Entry kEntries[] = {
      {"vkCreateInstance", reinterpret_cast<PFN_vkVoidFunction>(&vkCreateInstance)},
      {"vkDestroyInstance", reinterpret_cast<PFN_vkVoidFunction>(&vkDestroyInstance)},
      {"vkEnumeratePhysicalDevices",
       reinterpret_cast<PFN_vkVoidFunction>(&vkEnumeratePhysicalDevices)},
      {"vkGetPhysicalDeviceProperties",
       reinterpret_cast<PFN_vkVoidFunction>(&vkGetPhysicalDeviceProperties)},
      {"vkGetPhysicalDeviceProperties2",
       reinterpret_cast<PFN_vkVoidFunction>(&vkGetPhysicalDeviceProperties2)},
      {"vkGetPhysicalDeviceMemoryProperties",
       reinterpret_cast<PFN_vkVoidFunction>(&vkGetPhysicalDeviceMemoryProperties)},
      {"vkGetPhysicalDeviceMemoryProperties2",
       reinterpret_cast<PFN_vkVoidFunction>(&vkGetPhysicalDeviceMemoryProperties2)},
      {"vkEnumerateDeviceExtensionProperties",
       reinterpret_cast<PFN_vkVoidFunction>(&vkEnumerateDeviceExtensionProperties)},
  };
  for (const auto& e : kEntries) {
    if (std::strcmp(e.name, name) == 0) return e.fn;
  }
  return nullptr;
}

}  // extern "C"
