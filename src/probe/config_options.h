// Probe and capacity options from the layered `[mesh]` config (config/config.h).
#pragma once

#include "config/config.h"
#include "probe/capacity.h"
#include "probe/probes.h"

namespace populi::probe {

// mesh.probe.order and mesh.probe.cache_ttl_secs; library paths and the sysfs root keep their
// defaults. The result is not validated here: call ValidateProbeOptions.
ProbeOptions ProbeOptionsFromConfig(const config::Config& cfg);

// mesh.donation.reserve_vram / reserve_cpu_cores / reserve_memory.
DonationReserve DonationReserveFromConfig(const config::Config& cfg);

}  // namespace populi::probe
