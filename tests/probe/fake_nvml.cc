// A stand-in libnvidia-ml for tests: exports the NVML C symbols the nvml probe resolves, so the
// probe's real dlopen / dlsym path runs. Behaviour comes from environment variables read on
// every call (so one library serves every test):
//   FAKE_NVML_GPUS       number of GPUs (default 2)
//   FAKE_NVML_INIT_RC    return code of nvmlInit_v2 (e.g. 18 = driver/library mismatch)
//   FAKE_NVML_MIG        "1" = MIG enabled on GPU 0
//   FAKE_NVML_LOG        a file; every init/shutdown appends a line (to check handles are
//                        released)
// GPU i: name "Fake H100 80GB HBM3", UUID GPU-0000000i-…, bus 00000000:0(i+1):00.0, 80 GiB total,
// (10 + i) GiB used.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct FakeDevice {
  int index;
};
FakeDevice g_devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' ? std::atoi(v) : fallback;
}

int GpuCount() {
  int n = EnvInt("FAKE_NVML_GPUS", 2);
  return n < 0 ? 0 : (n > 8 ? 8 : n);
}

void Log(const char* line) {
  const char* path = std::getenv("FAKE_NVML_LOG");
  if (path == nullptr) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", line);
    std::fclose(f);
  }
}

int Index(void* device) {
  return static_cast<FakeDevice*>(device)->index;
}

void Copy(char* out, unsigned int length, const std::string& text) {
  if (length == 0) return;
  std::snprintf(out, length, "%s", text.c_str());
}

struct PciInfo {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};
struct Memory {
  unsigned long long total, free, used;
};
struct Utilization {
  unsigned int gpu, memory;
};

constexpr unsigned long long kGiB = 1024ull * 1024 * 1024;

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int nvmlInit_v2() {
  int rc = EnvInt("FAKE_NVML_INIT_RC", 0);
  if (rc == 0) Log("init");
  return rc;
}
__attribute__((visibility("default"))) int nvmlShutdown() {
  Log("shutdown");
  return 0;
}
__attribute__((visibility("default"))) const char* nvmlErrorString(int rc) {
  switch (rc) {
    case 0:
      return "Success";
    case 4:
      return "Insufficient Permissions";
    case 9:
      return "Driver Not Loaded";
    case 18:
      return "RM has detected an NVML/RM version mismatch.";
    default:
      return "Unknown Error";
  }
}
__attribute__((visibility("default"))) int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = static_cast<unsigned int>(GpuCount());
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetHandleByIndex_v2(unsigned int i,
                                                                         void** device) {
  if (static_cast<int>(i) >= GpuCount()) return 2;
  *device = &g_devices[i];
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetName(void* d, char* name,
                                                             unsigned int length) {
  (void)d;
  Copy(name, length, "Fake H100 80GB HBM3");
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetUUID(void* d, char* uuid,
                                                             unsigned int length) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "GPU-%08d-aaaa-bbbb-cccc-ddddeeeeffff", Index(d));
  Copy(uuid, length, buf);
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetPciInfo_v3(void* d, PciInfo* pci) {
  std::memset(pci, 0, sizeof(*pci));
  pci->bus = static_cast<unsigned int>(Index(d) + 1);
  std::snprintf(pci->busId, sizeof(pci->busId), "00000000:%02X:00.0", Index(d) + 1);
  std::snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "0000:%02X:00.0", Index(d) + 1);
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMemoryInfo(void* d, Memory* m) {
  m->total = 80 * kGiB;
  m->used = static_cast<unsigned long long>(10 + Index(d)) * kGiB;
  m->free = m->total - m->used;
  return 0;
}
// R510+ drivers: `used` leaves out what the driver reserves (512 MiB here). Answers "function not
// found" (13) unless FAKE_NVML_MEMORY_V2=1, like an older driver; a wrong struct version gets
// "argument version mismatch" (25).
struct MemoryV2 {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};
__attribute__((visibility("default"))) int nvmlDeviceGetMemoryInfo_v2(void* d, MemoryV2* m) {
  if (EnvInt("FAKE_NVML_MEMORY_V2", 0) != 1) return 13;
  if (m->version != (static_cast<unsigned int>(sizeof(MemoryV2)) | (2u << 24))) return 25;
  m->total = 80 * kGiB;
  m->reserved = kGiB / 2;
  m->used = static_cast<unsigned long long>(10 + Index(d)) * kGiB;
  m->free = m->total - m->reserved - m->used;
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetUtilizationRates(void* d, Utilization* u) {
  u->gpu = static_cast<unsigned int>(30 + Index(d));
  u->memory = 5;
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetTemperature(void* d, unsigned int sensor,
                                                                    unsigned int* temp) {
  if (sensor != 0) return 2;
  *temp = static_cast<unsigned int>(40 + Index(d));
  return 0;
}
__attribute__((visibility("default"))) int nvmlSystemGetDriverVersion(char* version,
                                                                      unsigned int length) {
  Copy(version, length, "550.54.15");
  return 0;
}
__attribute__((visibility("default"))) int nvmlSystemGetCudaDriverVersion_v2(int* version) {
  *version = 12040;
  return 0;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMigMode(void* d, unsigned int* current,
                                                                unsigned int* pending) {
  const bool on = Index(d) == 0 && EnvInt("FAKE_NVML_MIG", 0) == 1;
  *current = on ? 1 : 0;
  *pending = *current;
  return 0;
}

}  // extern "C"
