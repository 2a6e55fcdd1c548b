// Small readers for sysfs/procfs trees (internal to probe/). Every path is joined under a root
// so tests can lay out a fake tree in a temp dir.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace populi::probe::internal {

// "<root>/<rel>" with exactly one slash between.
std::string JoinRoot(std::string_view root, std::string_view rel);

// Reads a small text file, trailing whitespace trimmed. errno_out gets errno on failure
// (ENOENT, EACCES, EISDIR …) and 0 on success.
std::optional<std::string> ReadSmallFile(const std::string& path, int* errno_out);

// Parses "0x10de" / "10de" / "1234" (decimal when no 0x prefix and all digits … hex for ids).
std::optional<uint64_t> ParseHexId(std::string_view text);
std::optional<uint64_t> ParseDecimal(std::string_view text);

// Canonical PCI bus id "dddd:bb:dd.f" lowercase with a 4-digit domain. Accepts NVML's 8-digit
// domain ("00000000:01:00.0"), upper case, and an absent domain ("01:00.0"). Empty when the
// text is not a PCI address.
std::string NormalizePciBusId(std::string_view text);

// Entry names of a directory (no "." / ".."), sorted; empty when unreadable.
std::vector<std::string> ListDir(const std::string& path);

// True when any PCI device under the root has this vendor id (e.g. 0x10de) in
// sys/bus/pci/devices/*/vendor or sys/class/drm/*/device/vendor.
bool PciVendorPresent(std::string_view root, uint64_t vendor_id);
// True when the root shows any DRM card/render node or a PCI display/accelerator device.
bool AnyGpuHardwarePresent(std::string_view root);

// Canonical vendor names (MESH-043): nvidia | amd | intel | apple | unknown.
std::string_view VendorName(uint64_t pci_vendor_id);

inline constexpr uint64_t kPciVendorNvidia = 0x10de;
inline constexpr uint64_t kPciVendorAmd = 0x1002;
inline constexpr uint64_t kPciVendorIntel = 0x8086;

}  // namespace populi::probe::internal
