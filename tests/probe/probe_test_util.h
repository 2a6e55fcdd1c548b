// Helpers for laying out sysfs / procfs fixture trees in a temp dir.
#pragma once

#include <cstdint>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace populi::probe {

inline constexpr uint64_t kGiB = 1024ull * 1024 * 1024;

}  // namespace populi::probe

namespace populi::probe::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "populi-probe-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    path_ = made != nullptr ? made : "";
    chmod(path_.c_str(), 0755);  // the permission test reads it as another user
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void Symlink(const std::string& target, const std::string& link) {
  std::filesystem::create_directories(std::filesystem::path(link).parent_path());
  std::filesystem::create_directory_symlink(target, link);
}

// Lays out a PCI GPU the way the kernel does: the device directory under
// sys/devices/pci0000:00/<bus>, a driver symlink, and sys/class/drm/<node>/device -> it.
inline std::string AddPciGpu(const TempDir& root, const std::string& node, const std::string& bus,
                             const std::string& vendor, const std::string& device,
                             const std::string& driver) {
  const std::string dev = root / ("sys/devices/pci0000:00/" + bus);
  WriteFile(dev + "/vendor", vendor + "\n");
  WriteFile(dev + "/device", device + "\n");
  WriteFile(dev + "/uevent", "DRIVER=" + driver + "\nPCI_SLOT_NAME=" + bus + "\n");
  std::filesystem::create_directories(root / ("sys/bus/pci/drivers/" + driver));
  std::filesystem::create_directory_symlink(root / ("sys/bus/pci/drivers/" + driver),
                                            dev + "/driver");
  Symlink(dev, root / ("sys/class/drm/" + node + "/device"));
  return dev;
}

// Adds another DRM node (renderD128, a connector) for an already laid out device.
inline void AddDrmNode(const TempDir& root, const std::string& node, const std::string& dev) {
  Symlink(dev, root / ("sys/class/drm/" + node + "/device"));
}

}  // namespace populi::probe::testing
