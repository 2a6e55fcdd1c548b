// Run-time loading of vendor libraries (internal to probe/). NVML and the Vulkan loader are
// opened with dlopen for each probe and closed before it returns, so a driver upgrade or restart
// is picked up on the next cycle (MESH-047); neither is ever a build dependency.
//
//   DlLibrary       RAII over dlopen/dlclose.
//   SymbolTable     resolves a list of entry points into typed function pointers and remembers
//                   the first required one that is absent, so a failure can name it.
//   LibraryProbe    the frame both vendor probes share: open the library or report why not,
//                   then hand it to the probe's API-specific part.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "probe/probe.h"

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
  // The symbol's address, or nullptr when absent (or the library did not load).
  void* RawSymbol(const char* symbol) const;

 private:
  void* handle_ = nullptr;
  std::string error_;
};

class SymbolTable {
 public:
  // `lookup(name)` gives an entry point's address or nullptr.
  using Lookup = std::function<void*(const char* name)>;
  explicit SymbolTable(Lookup lookup) : lookup_(std::move(lookup)) {}
  // Looks names up in `library` with dlsym; `library` must outlive the table.
  explicit SymbolTable(const DlLibrary& library)
      : lookup_([&library](const char* name) { return library.RawSymbol(name); }) {}

  // Resolves `out`; an absent required symbol is remembered when it is the first.
  template <typename Fn>
  void Required(Fn& out, const char* name) {
    out = reinterpret_cast<Fn>(lookup_(name));
    if (out == nullptr && missing_.empty()) missing_ = name;
  }
  template <typename Fn>
  void Optional(Fn& out, const char* name) {
    out = reinterpret_cast<Fn>(lookup_(name));
  }
  // The first of `names` that resolves (newest entry point first), or nullptr.
  template <typename Fn>
  void OptionalFirstOf(Fn& out, std::initializer_list<const char*> names) {
    out = nullptr;
    for (const char* name : names) {
      if ((out = reinterpret_cast<Fn>(lookup_(name))) != nullptr) return;
    }
  }

  // True when every Required symbol resolved.
  bool complete() const { return missing_.empty(); }
  // The first Required symbol that did not resolve; empty when complete().
  const std::string& first_missing() const { return missing_; }

 private:
  Lookup lookup_;
  std::string missing_;
};

// A probe over one vendor library. Probe() opens the library; when it does not load, the
// outcome is NoDevice if the hardware the library serves is absent (nothing to report), else a
// library_missing failure with InstallHint(). A loaded library goes to ProbeLibrary, the
// API-specific part, and is closed when Probe() returns. Every GPU found gets the probe's name as
// its source.
class LibraryProbe : public HardwareProbe {
 public:
  // Linux and Windows. macOS has no NVML, and Vulkan only through MoltenVK, which the metal probe
  // covers.
  bool applicable() const override;
  ProbeResult Probe() final;

 protected:
  // `library` is passed to dlopen as is (a soname or a path); `sysfs_root` is where the hardware
  // checks look.
  LibraryProbe(std::string library, std::string sysfs_root)
      : library_(std::move(library)), sysfs_root_(std::move(sysfs_root)) {}

  const std::string& library() const { return library_; }
  const std::string& sysfs_root() const { return sysfs_root_; }

  // Whether the hardware this library serves is present, asked only when it does not load.
  virtual bool HardwarePresent() const = 0;
  // NoDevice's detail when neither the library nor the hardware is there.
  virtual std::string NoHardwareDetail() const = 0;
  // How to install the library (the library_missing failure's hint).
  virtual std::string InstallHint() const = 0;
  virtual ProbeResult ProbeLibrary(const DlLibrary& library) = 0;

  // driver_mismatch: "<library> lacks <first missing symbol> (<why>)".
  ProbeResult MissingSymbol(const SymbolTable& symbols, std::string_view why,
                            std::string hint) const;

 private:
  std::string library_;
  std::string sysfs_root_;
};

}  // namespace populi::probe::internal
