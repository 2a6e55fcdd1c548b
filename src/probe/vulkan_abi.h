// The few Vulkan C types and constants the vulkan probe needs, declared here because no Vulkan
// headers are installed at build time. Layouts follow vulkan_core.h (Vulkan 1.1 + the
// VK_EXT_pci_bus_info and VK_EXT_memory_budget extensions). The test suite's fake loader uses
// the same declarations.
#pragma once

#include <cstdint>

namespace populi::probe::vk {

using VkResult = int32_t;
using VkInstance = struct VkInstance_T*;
using VkPhysicalDevice = struct VkPhysicalDevice_T*;
using VkDeviceSize = uint64_t;
using PFN_vkVoidFunction = void (*)();

inline constexpr VkResult kSuccess = 0;
inline constexpr VkResult kIncomplete = 5;
inline constexpr VkResult kErrorInitializationFailed = -3;
inline constexpr VkResult kErrorIncompatibleDriver = -9;

inline constexpr int32_t kStructureTypeApplicationInfo = 0;
inline constexpr int32_t kStructureTypeInstanceCreateInfo = 1;
inline constexpr int32_t kStructureTypePhysicalDeviceProperties2 = 1000059001;
inline constexpr int32_t kStructureTypePhysicalDeviceMemoryProperties2 = 1000059006;
inline constexpr int32_t kStructureTypePciBusInfoPropertiesExt = 1000212000;
inline constexpr int32_t kStructureTypeMemoryBudgetPropertiesExt = 1000237000;

inline constexpr uint32_t kApiVersion11 = (1u << 22) | (1u << 12);
inline constexpr uint32_t kMaxMemoryTypes = 32;
inline constexpr uint32_t kMaxMemoryHeaps = 16;
inline constexpr uint32_t kMemoryHeapDeviceLocalBit = 0x1;

enum PhysicalDeviceType : int32_t {
  kTypeOther = 0,
  kTypeIntegratedGpu = 1,
  kTypeDiscreteGpu = 2,
  kTypeVirtualGpu = 3,
  kTypeCpu = 4,
};

struct VkApplicationInfo {
  int32_t sType;
  const void* pNext;
  const char* pApplicationName;
  uint32_t applicationVersion;
  const char* pEngineName;
  uint32_t engineVersion;
  uint32_t apiVersion;
};

struct VkInstanceCreateInfo {
  int32_t sType;
  const void* pNext;
  uint32_t flags;
  const VkApplicationInfo* pApplicationInfo;
  uint32_t enabledLayerCount;
  const char* const* ppEnabledLayerNames;
  uint32_t enabledExtensionCount;
  const char* const* ppEnabledExtensionNames;
};

// Only the leading fields are named; VkPhysicalDeviceLimits and VkPhysicalDeviceSparseProperties
// (about 530 bytes) are covered by an over-sized opaque tail so the driver never writes past
// the struct.
struct VkPhysicalDeviceProperties {
  uint32_t apiVersion;
  uint32_t driverVersion;
  uint32_t vendorID;
  uint32_t deviceID;
  int32_t deviceType;
  char deviceName[256];
  uint8_t pipelineCacheUUID[16];
  alignas(8) unsigned char limits_and_sparse_properties[1024];
};

struct VkPhysicalDeviceProperties2 {
  int32_t sType;
  void* pNext;
  VkPhysicalDeviceProperties properties;
};

struct VkPhysicalDevicePCIBusInfoPropertiesEXT {
  int32_t sType;
  void* pNext;
  uint32_t pciDomain;
  uint32_t pciBus;
  uint32_t pciDevice;
  uint32_t pciFunction;
};

struct VkMemoryType {
  uint32_t propertyFlags;
  uint32_t heapIndex;
};

struct VkMemoryHeap {
  VkDeviceSize size;
  uint32_t flags;
};

struct VkPhysicalDeviceMemoryProperties {
  uint32_t memoryTypeCount;
  VkMemoryType memoryTypes[kMaxMemoryTypes];
  uint32_t memoryHeapCount;
  VkMemoryHeap memoryHeaps[kMaxMemoryHeaps];
};

struct VkPhysicalDeviceMemoryProperties2 {
  int32_t sType;
  void* pNext;
  VkPhysicalDeviceMemoryProperties memoryProperties;
};

struct VkPhysicalDeviceMemoryBudgetPropertiesEXT {
  int32_t sType;
  void* pNext;
  VkDeviceSize heapBudget[kMaxMemoryHeaps];
  VkDeviceSize heapUsage[kMaxMemoryHeaps];
};

struct VkExtensionProperties {
  char extensionName[256];
  uint32_t specVersion;
};

extern "C" {
using PFN_vkCreateInstance = VkResult (*)(const VkInstanceCreateInfo*, const void* allocator,
                                          VkInstance*);
using PFN_vkDestroyInstance = void (*)(VkInstance, const void* allocator);
using PFN_vkEnumeratePhysicalDevices = VkResult (*)(VkInstance, uint32_t*, VkPhysicalDevice*);
using PFN_vkGetPhysicalDeviceProperties = void (*)(VkPhysicalDevice, VkPhysicalDeviceProperties*);
using PFN_vkGetPhysicalDeviceProperties2 = void (*)(VkPhysicalDevice, VkPhysicalDeviceProperties2*);
using PFN_vkGetPhysicalDeviceMemoryProperties = void (*)(VkPhysicalDevice,
                                                         VkPhysicalDeviceMemoryProperties*);
using PFN_vkGetPhysicalDeviceMemoryProperties2 = void (*)(VkPhysicalDevice,
                                                          VkPhysicalDeviceMemoryProperties2*);
using PFN_vkEnumerateDeviceExtensionProperties = VkResult (*)(VkPhysicalDevice, const char*,
                                                              uint32_t*, VkExtensionProperties*);
using PFN_vkGetInstanceProcAddr = PFN_vkVoidFunction (*)(VkInstance, const char*);
}

}  // namespace populi::probe::vk
