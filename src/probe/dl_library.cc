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

}  // namespace populi::probe::internal
