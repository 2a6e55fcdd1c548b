#include "probe/config_options.h"

namespace populi::probe {

ProbeOptions ProbeOptionsFromConfig(const config::Config& cfg) {
  ProbeOptions options;
  options.order = cfg.GetList("mesh.probe.order");
  options.cache_ttl_secs = cfg.GetInt("mesh.probe.cache_ttl_secs");
  options.mock_fixture = cfg.GetString("mesh.probe.mock_fixture");
  return options;
}

DonationReserve DonationReserveFromConfig(const config::Config& cfg) {
  DonationReserve reserve;
  reserve.gpu_memory_bytes = static_cast<uint64_t>(cfg.GetBytes("mesh.donation.reserve_vram"));
  reserve.cpu_cores = static_cast<uint32_t>(cfg.GetInt("mesh.donation.reserve_cpu_cores"));
  reserve.memory_bytes = static_cast<uint64_t>(cfg.GetBytes("mesh.donation.reserve_memory"));
  return reserve;
}

}  // namespace populi::probe
