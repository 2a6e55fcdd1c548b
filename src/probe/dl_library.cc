#include "probe/dl_library.h"

#include <dlfcn.h>

namespace populi::probe::internal {

DlLibrary::DlLibrary(const std::string& name) {
  dlerror();
  handle_ = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* e = dlerror();
    error_ = e != nullptr ? e : "dlopen failed";
  }
}

DlLibrary::~DlLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

void* DlLibrary::RawSymbol(const char* symbol) const {
  if (handle_ == nullptr) return nullptr;
  return dlsym(handle_, symbol);
}

bool LibraryProbe::applicable() const {
#if defined(__linux__) || defined(_WIN32)
  return true;
#else
  return false;
#endif
}

ProbeResult LibraryProbe::Probe() {
  DlLibrary lib(library_);
  if (!lib.ok()) {
    if (!HardwarePresent()) return ProbeResult::NoDevice(NoHardwareDetail());
    return ProbeResult::Failed(name(), kFailureLibraryMissing,
                               "cannot load " + library_ + ": " + lib.error(), InstallHint());
  }
  ProbeResult result = ProbeLibrary(lib);
  for (mesh::GpuDevice& gpu : result.gpus) gpu.source = std::string(name());
  return result;
}

ProbeResult LibraryProbe::MissingSymbol(const SymbolTable& symbols, std::string_view why,
                                        std::string hint) const {
  return ProbeResult::Failed(
      name(), kFailureDriverMismatch,
      library_ + " lacks " + symbols.first_missing() + " (" + std::string(why) + ")",
      std::move(hint));
}

}  // namespace populi::probe::internal
