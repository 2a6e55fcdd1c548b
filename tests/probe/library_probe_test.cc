// The frame shared by the probes over run-time loaded vendor libraries (nvml, vulkan): symbol
// tables that name what is missing, and LibraryProbe's library-missing / found paths, against
// real libraries (libm, and a library built by the tests).
#include <gtest/gtest.h>

#include "probe/dl_library.h"
#include "probe_test_util.h"

namespace populi::probe {
namespace {

using internal::DlLibrary;
using internal::SymbolTable;
using testing::ReadAll;
using testing::TempDir;

using UnaryFn = double (*)(double);

TEST(SymbolTable, NamesTheFirstMissingRequiredSymbol) {
  DlLibrary libm("libm.so.6");
  ASSERT_TRUE(libm.ok()) << libm.error();
  SymbolTable symbols(libm);
  UnaryFn cosine = nullptr;
  UnaryFn absent = nullptr;
  UnaryFn also_absent = nullptr;
  UnaryFn optional = nullptr;
  symbols.Required(cosine, "cos");
  EXPECT_TRUE(symbols.complete());
  symbols.Optional(optional, "populi_no_such_optional");
  EXPECT_TRUE(symbols.complete());  // an optional symbol may be absent
  EXPECT_EQ(optional, nullptr);
  symbols.Required(absent, "populi_no_such_symbol");
  symbols.Required(also_absent, "populi_no_such_symbol_either");
  EXPECT_FALSE(symbols.complete());
  EXPECT_EQ(symbols.first_missing(), "populi_no_such_symbol");
  EXPECT_EQ(absent, nullptr);
  ASSERT_NE(cosine, nullptr);
  EXPECT_EQ(cosine(0.0), 1.0);  // the real entry point, typed
}

TEST(SymbolTable, FirstOfTakesTheFirstNameThatResolves) {
  DlLibrary libm("libm.so.6");
  ASSERT_TRUE(libm.ok()) << libm.error();
  SymbolTable symbols(libm);
  UnaryFn fn = nullptr;
  symbols.OptionalFirstOf(fn, {"populi_sqrt_v3", "sqrt", "cbrt"});
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(fn(16.0), 4.0);
  symbols.OptionalFirstOf(fn, {"populi_a", "populi_b"});
  EXPECT_EQ(fn, nullptr);
  EXPECT_TRUE(symbols.complete());
}

TEST(SymbolTable, ALibraryThatDidNotLoadResolvesNothing) {
  DlLibrary missing("/nonexistent/libpopuli-none.so");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("libpopuli-none.so"), std::string::npos) << missing.error();
  SymbolTable symbols(missing);
  UnaryFn fn = nullptr;
  symbols.Required(fn, "cos");
  EXPECT_EQ(symbols.first_missing(), "cos");
}

// A probe over any library: needs `symbol`, reports one GPU without a source.
class TestLibraryProbe final : public internal::LibraryProbe {
 public:
  TestLibraryProbe(std::string library, bool hardware, std::string symbol)
      : LibraryProbe(std::move(library), "/"), hardware_(hardware), symbol_(std::move(symbol)) {}
  std::string_view name() const override { return "testlib"; }
  int library_calls = 0;

 protected:
  bool HardwarePresent() const override { return hardware_; }
  std::string NoHardwareDetail() const override { return "no test hardware"; }
  std::string InstallHint() const override { return "install the test library"; }
  ProbeResult ProbeLibrary(const DlLibrary& lib) override {
    ++library_calls;
    SymbolTable symbols(lib);
    void (*fn)() = nullptr;
    symbols.Required(fn, symbol_.c_str());
    if (!symbols.complete()) return MissingSymbol(symbols, "too old", "upgrade it");
    mesh::GpuDevice gpu;
    gpu.name = "Test GPU";
    return ProbeResult::FoundGpus({gpu});
  }

 private:
  bool hardware_;
  std::string symbol_;
};

TEST(LibraryProbe, MissingLibraryIsNoDeviceWithoutHardwareAndAFailureWithIt) {
  TempDir dir;
  const std::string path = dir / "libmissing.so.1";
  TestLibraryProbe no_hardware(path, false, "cos");
  ProbeResult none = no_hardware.Probe();
  EXPECT_EQ(none.outcome, ProbeOutcome::kNoDevice);
  EXPECT_EQ(none.detail, "no test hardware");
  EXPECT_EQ(no_hardware.library_calls, 0);

  TestLibraryProbe hardware(path, true, "cos");
  ProbeResult failed = hardware.Probe();
  ASSERT_EQ(failed.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(failed.failure.probe, "testlib");
  EXPECT_EQ(failed.failure.kind, "library_missing");
  EXPECT_EQ(failed.failure.message.rfind("cannot load " + path + ": ", 0), 0u)
      << failed.failure.message;
  EXPECT_EQ(failed.failure.hint, "install the test library");
  EXPECT_EQ(hardware.library_calls, 0);
}

TEST(LibraryProbe, AMissingSymbolIsADriverMismatchNamingIt) {
  TestLibraryProbe probe(FAKE_NVML_OLD_LIB, true, "nvmlInit_v2");
  ProbeResult result = probe.Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "driver_mismatch");
  EXPECT_EQ(result.failure.message,
            std::string(FAKE_NVML_OLD_LIB) + " lacks nvmlInit_v2 (too old)");
  EXPECT_EQ(result.failure.hint, "upgrade it");
  // The library was closed when the probe returned.
  EXPECT_EQ(ReadAll("/proc/self/maps").find("libfake_nvml_old"), std::string::npos);
}

TEST(LibraryProbe, FoundDevicesCarryTheProbeName) {
  TestLibraryProbe probe("libm.so.6", false, "cos");
  ProbeResult result = probe.Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].source, "testlib");
  EXPECT_EQ(probe.library_calls, 1);
}

}  // namespace
}  // namespace populi::probe
