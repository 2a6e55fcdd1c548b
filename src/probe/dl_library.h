// RAII over dlopen/dlclose (internal to probe/). Probes open their vendor library per probe and
// close it before returning, so a driver upgrade or restart is picked up on the next cycle
// (MESH-047).
#pragma once

#include <string>

namespace populi::probe::internal {

class DlLibrary {
 public:
  // RTLD_NOW | RTLD_LOCAL. On failure ok() is false and error() holds dlerror()'s text.
  explicit DlLibrary(const std::string& name);
  ~DlLibrary();
  DlLibrary(const DlLibrary&) = delete;
  DlLibrary& operator=(const DlLibrary&) = delete;

  bool ok() const { return handle_ != nullptr; }
  const std::string& error() const { return error_; }

  // The symbol cast to a function pointer type, or nullptr when absent.
  template <typename Fn>
  Fn Symbol(const char* symbol) const {
    return reinterpret_cast<Fn>(RawSymbol(symbol));
  }

 private:
  void* RawSymbol(const char* symbol) const;
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace populi::probe::internal
