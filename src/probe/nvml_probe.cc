// nvml: NVIDIA GPUs through libnvidia-ml, loaded with dlopen for each probe and closed after
// (MESH-047). The few NVML C types used are declared here; no NVIDIA headers are needed to
// build. The UUID is the device's stable id across reboots (MESH-051).
#include <cstdio>
#include <string>
#include <variant>

#include "probe/dl_library.h"
#include "probe/probes.h"
#include "probe/sysfs.h"

namespace populi::probe {
namespace {

constexpr std::string_view kNvmlName = "nvml";

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

std::string ErrorText(const NvmlApi& api, nvmlReturn_t rc) {
  const char* text = api.error_string != nullptr ? api.error_string(rc) : nullptr;
  return (text != nullptr ? std::string(text) : std::string("NVML error")) + " (" +
         std::to_string(rc) + ")";
}

// Resolves the entry points; the five without which nothing can be read are required.
NvmlApi ResolveApi(internal::SymbolTable& symbols) {
  NvmlApi api;
  symbols.Required(api.init, "nvmlInit_v2");
  symbols.Required(api.shutdown, "nvmlShutdown");
  symbols.Required(api.count, "nvmlDeviceGetCount_v2");
  symbols.Required(api.handle, "nvmlDeviceGetHandleByIndex_v2");
  symbols.Optional(api.name, "nvmlDeviceGetName");
  symbols.Optional(api.uuid, "nvmlDeviceGetUUID");
  // Drivers before R450 have only _v2, which fills the same struct.
  symbols.OptionalFirstOf(api.pci, {"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2"});
  symbols.Required(api.memory, "nvmlDeviceGetMemoryInfo");
  symbols.Optional(api.memory_v2, "nvmlDeviceGetMemoryInfo_v2");
  symbols.Optional(api.utilization, "nvmlDeviceGetUtilizationRates");
  symbols.Optional(api.temperature, "nvmlDeviceGetTemperature");
  symbols.Optional(api.driver_version, "nvmlSystemGetDriverVersion");
  symbols.Optional(api.cuda_version, "nvmlSystemGetCudaDriverVersion_v2");
  symbols.Optional(api.mig, "nvmlDeviceGetMigMode");
  symbols.Optional(api.error_string, "nvmlErrorString");
  return api;
}

ProbeResult InitFailure(const NvmlApi& api, nvmlReturn_t rc) {
  const std::string what = "nvmlInit_v2 failed: " + ErrorText(api, rc);
  switch (rc) {
    case kNvmlErrorLibRmVersionMismatch:
      return ProbeResult::Failed(kNvmlName, kFailureDriverMismatch, what,
                                 "the NVML library and the loaded kernel module differ in "
                                 "version: reboot, or reload the nvidia kernel modules");
    case kNvmlErrorNoPermission:
      return ProbeResult::Failed(kNvmlName, kFailurePermissionDenied, what,
                                 "run vox as a user allowed to open /dev/nvidia* (e.g. in the "
                                 "'video' group)");
    case kNvmlErrorDriverNotLoaded:
      return ProbeResult::Failed(kNvmlName, kFailureError, what,
                                 "the NVIDIA kernel module is not loaded: modprobe nvidia, or "
                                 "check `dmesg | grep -i nvidia`");
    default:
      return ProbeResult::Failed(kNvmlName, kFailureError, what,
                                 "run `nvidia-smi` to see whether the driver itself works");
  }
}

// The driver and CUDA versions, the same for every device ("" when NVML does not say).
struct DriverVersions {
  std::string driver;
  std::string cuda;
};

DriverVersions ReadDriverVersions(const NvmlApi& api) {
  DriverVersions v;
  char text[96];
  if (api.driver_version != nullptr && api.driver_version(text, sizeof(text)) == kNvmlSuccess) {
    text[sizeof(text) - 1] = '\0';
    v.driver = text;
  }
  int cuda_raw = 0;
  if (api.cuda_version != nullptr && api.cuda_version(&cuda_raw) == kNvmlSuccess && cuda_raw > 0) {
    v.cuda = std::to_string(cuda_raw / 1000) + "." + std::to_string((cuda_raw % 1000) / 10);
  }
  return v;
}

// Name, UUID and PCI bus id, each where NVML gives it.
void ReadIdentity(const NvmlApi& api, nvmlDevice_t dev, mesh::GpuDevice& gpu) {
  char text[96];
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
}

// Total / used / free memory, through the v2 entry point where the driver has it.
nvmlReturn_t ReadMemory(const NvmlApi& api, nvmlDevice_t dev, mesh::GpuDevice& gpu) {
  nvmlMemory_t mem{};
  nvmlMemory_v2_t mem2{};
  mem2.version = kNvmlMemoryV2Version;
  if (api.memory_v2 != nullptr && api.memory_v2(dev, &mem2) == kNvmlSuccess) {
    mem = {mem2.total, mem2.free, mem2.used};
  } else if (nvmlReturn_t rc = api.memory(dev, &mem); rc != kNvmlSuccess) {
    return rc;
  }
  gpu.memory_total_bytes = mem.total;
  gpu.memory_used_bytes = mem.used;
  gpu.memory_free_bytes = mem.free;
  return kNvmlSuccess;
}

// Utilisation, temperature and MIG mode: optional readings, left unset when NVML cannot say.
void ReadSensors(const NvmlApi& api, nvmlDevice_t dev, mesh::GpuDevice& gpu) {
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
}

// Device `index`, or the failure that stops the probe (a device that cannot be opened or whose
// memory cannot be read makes the whole inventory unreliable).
std::variant<mesh::GpuDevice, ProbeResult> DescribeDevice(const NvmlApi& api, unsigned int index,
                                                          const DriverVersions& versions) {
  nvmlDevice_t dev = nullptr;
  nvmlReturn_t rc = api.handle(index, &dev);
  if (rc != kNvmlSuccess) {
    return ProbeResult::Failed(
        kNvmlName, kFailureError,
        "nvmlDeviceGetHandleByIndex_v2(" + std::to_string(index) +
            ") failed: " + ErrorText(api, rc),
        "a GPU may have fallen off the bus: check `nvidia-smi` and `dmesg` for Xid errors");
  }
  mesh::GpuDevice gpu;
  gpu.vendor = "nvidia";
  gpu.driver_version = versions.driver;
  gpu.cuda_driver_version = versions.cuda;
  ReadIdentity(api, dev, gpu);
  rc = ReadMemory(api, dev, gpu);
  if (rc != kNvmlSuccess) {
    return ProbeResult::Failed(
        kNvmlName, kFailureError,
        "nvmlDeviceGetMemoryInfo(" + std::to_string(index) + ") failed: " + ErrorText(api, rc),
        "run `nvidia-smi -q -d MEMORY` to check the device");
  }
  ReadSensors(api, dev, gpu);
  if (gpu.uuid.empty()) gpu.uuid = "10de@" + gpu.pci_bus_id;
  return gpu;
}

ProbeResult ProbeDevices(const NvmlApi& api) {
  unsigned int count = 0;
  nvmlReturn_t rc = api.count(&count);
  if (rc != kNvmlSuccess) {
    return ProbeResult::Failed(kNvmlName, kFailureError,
                               "nvmlDeviceGetCount_v2 failed: " + ErrorText(api, rc),
                               "run `nvidia-smi` to see whether the driver itself works");
  }
  if (count == 0) return ProbeResult::NoDevice("NVML reports 0 devices");
  const DriverVersions versions = ReadDriverVersions(api);
  std::vector<mesh::GpuDevice> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    auto device = DescribeDevice(api, i, versions);
    if (auto* failed = std::get_if<ProbeResult>(&device)) return std::move(*failed);
    gpus.push_back(std::move(std::get<mesh::GpuDevice>(device)));
  }
  return ProbeResult::FoundGpus(std::move(gpus));
}

class NvmlProbe final : public internal::LibraryProbe {
 public:
  NvmlProbe(std::string library, std::string root)
      : LibraryProbe(std::move(library), std::move(root)) {}
  std::string_view name() const override { return kNvmlName; }

 protected:
  bool HardwarePresent() const override {
    return internal::PciVendorPresent(sysfs_root(), internal::kPciVendorNvidia);
  }
  std::string NoHardwareDetail() const override {
    return "no NVIDIA device on the PCI bus and " + library() + " is not installed";
  }
  std::string InstallHint() const override {
    return "install the NVIDIA driver's NVML library (Debian: apt install libnvidia-ml1 / "
           "nvidia-driver), or set the library path";
  }

  ProbeResult ProbeLibrary(const internal::DlLibrary& lib) override {
    internal::SymbolTable symbols(lib);
    const NvmlApi api = ResolveApi(symbols);
    if (!symbols.complete()) {
      return MissingSymbol(symbols, "library too old for this build",
                           "upgrade the NVIDIA driver to R450 or newer");
    }
    nvmlReturn_t rc = api.init();
    if (rc != kNvmlSuccess) return InitFailure(api, rc);
    ProbeResult result = ProbeDevices(api);
    api.shutdown();
    return result;
  }
};

}  // namespace

std::unique_ptr<HardwareProbe> MakeNvmlProbe(std::string library, std::string sysfs_root) {
  return std::make_unique<NvmlProbe>(std::move(library), std::move(sysfs_root));
}

}  // namespace populi::probe
