// nvml: NVIDIA GPUs through libnvidia-ml, loaded with dlopen for each probe and closed after
// (MESH-047). The few NVML C types used are declared here; no NVIDIA headers are needed to
// build. The UUID is the device's stable id across reboots (MESH-051).
#include <cstdio>
#include <string>

#include "probe/dl_library.h"
#include "probe/probes.h"
#include "probe/sysfs.h"

namespace populi::probe {
namespace {

constexpr std::string_view kName = "nvml";

// ---- the subset of the NVML C API used (ABI-stable since the _v2/_v3 entry points) ----
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr nvmlReturn_t kNvmlErrorNoPermission = 4;
constexpr nvmlReturn_t kNvmlErrorDriverNotLoaded = 9;
constexpr nvmlReturn_t kNvmlErrorLibRmVersionMismatch = 18;
constexpr unsigned kNvmlTemperatureGpu = 0;
constexpr unsigned kNvmlMigEnabled = 1;

struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
// nvmlDeviceGetMemoryInfo_v2 (R510+): `used` excludes the memory the driver reserves for itself,
// which nvidia-smi also leaves out of memory.used; v1 counts it as used.
struct nvmlMemory_v2_t {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};
constexpr unsigned int kNvmlMemoryV2Version =
    static_cast<unsigned int>(sizeof(nvmlMemory_v2_t)) | (2u << 24);
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using CountFn = nvmlReturn_t (*)(unsigned int*);
using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using StringFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using PciFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t*);
using MemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using MemoryV2Fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t*);
using UtilFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using TempFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int, unsigned int*);
using SysStringFn = nvmlReturn_t (*)(char*, unsigned int);
using CudaVersionFn = nvmlReturn_t (*)(int*);
using MigFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, unsigned int*);
using ErrorStringFn = const char* (*)(nvmlReturn_t);

struct NvmlApi {
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  CountFn count = nullptr;
  HandleFn handle = nullptr;
  StringFn name = nullptr;
  StringFn uuid = nullptr;
  PciFn pci = nullptr;
  MemoryFn memory = nullptr;
  MemoryV2Fn memory_v2 = nullptr;  // optional
  UtilFn utilization = nullptr;
  TempFn temperature = nullptr;
  SysStringFn driver_version = nullptr;
  CudaVersionFn cuda_version = nullptr;
  MigFn mig = nullptr;
  ErrorStringFn error_string = nullptr;
};

class NvmlProbe final : public HardwareProbe {
 public:
  NvmlProbe(std::string library, std::string root)
      : library_(std::move(library)), root_(std::move(root)) {}
  std::string_view name() const override { return kName; }
  bool applicable() const override {
#if defined(__linux__) || defined(_WIN32)
    return true;
#else
    return false;
#endif
  }

  ProbeResult Probe() override {
    internal::DlLibrary lib(library_);
    if (!lib.ok()) {
      if (!internal::PciVendorPresent(root_, internal::kPciVendorNvidia)) {
        return ProbeResult::NoDevice("no NVIDIA device on the PCI bus and " + library_ +
                                     " is not installed");
      }
      return ProbeResult::Failed(
          kName, kFailureLibraryMissing, "cannot load " + library_ + ": " + lib.error(),
          "install the NVIDIA driver's NVML library (Debian: apt install libnvidia-ml1 / "
          "nvidia-driver), or set the library path");
    }
    NvmlApi api;
    api.init = lib.Symbol<InitFn>("nvmlInit_v2");
    api.shutdown = lib.Symbol<ShutdownFn>("nvmlShutdown");
    api.count = lib.Symbol<CountFn>("nvmlDeviceGetCount_v2");
    api.handle = lib.Symbol<HandleFn>("nvmlDeviceGetHandleByIndex_v2");
    api.name = lib.Symbol<StringFn>("nvmlDeviceGetName");
    api.uuid = lib.Symbol<StringFn>("nvmlDeviceGetUUID");
    api.pci = lib.Symbol<PciFn>("nvmlDeviceGetPciInfo_v3");
    // Drivers before R450 have only _v2, which fills the same struct.
    if (api.pci == nullptr) api.pci = lib.Symbol<PciFn>("nvmlDeviceGetPciInfo_v2");
    api.memory = lib.Symbol<MemoryFn>("nvmlDeviceGetMemoryInfo");
    api.memory_v2 = lib.Symbol<MemoryV2Fn>("nvmlDeviceGetMemoryInfo_v2");
    api.utilization = lib.Symbol<UtilFn>("nvmlDeviceGetUtilizationRates");
    api.temperature = lib.Symbol<TempFn>("nvmlDeviceGetTemperature");
    api.driver_version = lib.Symbol<SysStringFn>("nvmlSystemGetDriverVersion");
    api.cuda_version = lib.Symbol<CudaVersionFn>("nvmlSystemGetCudaDriverVersion_v2");
    api.mig = lib.Symbol<MigFn>("nvmlDeviceGetMigMode");
    api.error_string = lib.Symbol<ErrorStringFn>("nvmlErrorString");
    const char* missing = nullptr;
    if (api.init == nullptr)
      missing = "nvmlInit_v2";
    else if (api.shutdown == nullptr)
      missing = "nvmlShutdown";
    else if (api.count == nullptr)
      missing = "nvmlDeviceGetCount_v2";
    else if (api.handle == nullptr)
      missing = "nvmlDeviceGetHandleByIndex_v2";
    else if (api.memory == nullptr)
      missing = "nvmlDeviceGetMemoryInfo";
    if (missing != nullptr) {
      return ProbeResult::Failed(
          kName, kFailureDriverMismatch,
          library_ + " lacks " + std::string(missing) + " (library too old for this build)",
          "upgrade the NVIDIA driver to R450 or newer");
    }

    nvmlReturn_t rc = api.init();
    if (rc != kNvmlSuccess) return InitFailure(api, rc);
    ProbeResult result = ProbeDevices(api);
    api.shutdown();
    return result;
  }

 private:
  static std::string ErrorText(const NvmlApi& api, nvmlReturn_t rc) {
    const char* text = api.error_string != nullptr ? api.error_string(rc) : nullptr;
    return (text != nullptr ? std::string(text) : std::string("NVML error")) + " (" +
           std::to_string(rc) + ")";
  }

  ProbeResult InitFailure(const NvmlApi& api, nvmlReturn_t rc) const {
    const std::string what = "nvmlInit_v2 failed: " + ErrorText(api, rc);
    switch (rc) {
      case kNvmlErrorLibRmVersionMismatch:
        return ProbeResult::Failed(kName, kFailureDriverMismatch, what,
                                   "the NVML library and the loaded kernel module differ in "
                                   "version: reboot, or reload the nvidia kernel modules");
      case kNvmlErrorNoPermission:
        return ProbeResult::Failed(kName, kFailurePermissionDenied, what,
                                   "run vox as a user allowed to open /dev/nvidia* (e.g. in the "
                                   "'video' group)");
      case kNvmlErrorDriverNotLoaded:
        return ProbeResult::Failed(kName, kFailureError, what,
                                   "the NVIDIA kernel module is not loaded: modprobe nvidia, or "
                                   "check `dmesg | grep -i nvidia`");
      default:
        return ProbeResult::Failed(kName, kFailureError, what,
                                   "run `nvidia-smi` to see whether the driver itself works");
    }
  }

  ProbeResult ProbeDevices(const NvmlApi& api) const {
    unsigned int count = 0;
    nvmlReturn_t rc = api.count(&count);
    if (rc != kNvmlSuccess) {
      return ProbeResult::Failed(kName, kFailureError,
                                 "nvmlDeviceGetCount_v2 failed: " + ErrorText(api, rc),
                                 "run `nvidia-smi` to see whether the driver itself works");
    }
    if (count == 0) return ProbeResult::NoDevice("NVML reports 0 devices");

    std::string driver;
    char text[96];
    if (api.driver_version != nullptr && api.driver_version(text, sizeof(text)) == kNvmlSuccess) {
      text[sizeof(text) - 1] = '\0';
      driver = text;
    }
    std::string cuda;
    int cuda_raw = 0;
    if (api.cuda_version != nullptr && api.cuda_version(&cuda_raw) == kNvmlSuccess &&
        cuda_raw > 0) {
      cuda = std::to_string(cuda_raw / 1000) + "." + std::to_string((cuda_raw % 1000) / 10);
    }

    std::vector<mesh::GpuDevice> gpus;
    for (unsigned int i = 0; i < count; ++i) {
      nvmlDevice_t dev = nullptr;
      rc = api.handle(i, &dev);
      if (rc != kNvmlSuccess) {
        return ProbeResult::Failed(
            kName, kFailureError,
            "nvmlDeviceGetHandleByIndex_v2(" + std::to_string(i) +
                ") failed: " + ErrorText(api, rc),
            "a GPU may have fallen off the bus: check `nvidia-smi` and `dmesg` for Xid errors");
      }
      mesh::GpuDevice gpu;
      gpu.source = std::string(kName);
      gpu.vendor = "nvidia";
      gpu.driver_version = driver;
      gpu.cuda_driver_version = cuda;
      if (api.name != nullptr && api.name(dev, text, sizeof(text)) == kNvmlSuccess) {
        text[sizeof(text) - 1] = '\0';
        gpu.name = text;
      }
      if (api.uuid != nullptr && api.uuid(dev, text, sizeof(text)) == kNvmlSuccess) {
        text[sizeof(text) - 1] = '\0';
        gpu.uuid = text;
      }
      nvmlPciInfo_t pci{};
      if (api.pci != nullptr && api.pci(dev, &pci) == kNvmlSuccess) {
        pci.busId[sizeof(pci.busId) - 1] = '\0';
        gpu.pci_bus_id = internal::NormalizePciBusId(pci.busId);
      }
      nvmlMemory_t mem{};
      nvmlMemory_v2_t mem2{};
      mem2.version = kNvmlMemoryV2Version;
      if (api.memory_v2 != nullptr && api.memory_v2(dev, &mem2) == kNvmlSuccess) {
        mem = {mem2.total, mem2.free, mem2.used};
        rc = kNvmlSuccess;
      } else {
        rc = api.memory(dev, &mem);
      }
      if (rc != kNvmlSuccess) {
        return ProbeResult::Failed(
            kName, kFailureError,
            "nvmlDeviceGetMemoryInfo(" + std::to_string(i) + ") failed: " + ErrorText(api, rc),
            "run `nvidia-smi -q -d MEMORY` to check the device");
      }
      gpu.memory_total_bytes = mem.total;
      gpu.memory_used_bytes = mem.used;
      gpu.memory_free_bytes = mem.free;
      nvmlUtilization_t util{};
      if (api.utilization != nullptr && api.utilization(dev, &util) == kNvmlSuccess) {
        gpu.utilization_pct = util.gpu;
      }
      unsigned int temp = 0;
      if (api.temperature != nullptr &&
          api.temperature(dev, kNvmlTemperatureGpu, &temp) == kNvmlSuccess) {
        gpu.temperature_c = temp;
      }
      unsigned int mig_current = 0;
      unsigned int mig_pending = 0;
      if (api.mig != nullptr && api.mig(dev, &mig_current, &mig_pending) == kNvmlSuccess) {
        gpu.mig_enabled = mig_current == kNvmlMigEnabled;
      }
      if (gpu.uuid.empty()) gpu.uuid = "10de@" + gpu.pci_bus_id;
      gpus.push_back(std::move(gpu));
    }
    return ProbeResult::FoundGpus(std::move(gpus));
  }

  std::string library_;
  std::string root_;
};

}  // namespace

std::unique_ptr<HardwareProbe> MakeNvmlProbe(std::string library, std::string sysfs_root) {
  return std::make_unique<NvmlProbe>(std::move(library), std::move(sysfs_root));
}

}  // namespace populi::probe
