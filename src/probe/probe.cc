#include "probe/probe.h"

#include <utility>

namespace populi::probe {

std::string_view ToString(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::kNotApplicable:
      return "not_applicable";
    case ProbeOutcome::kNoDevice:
      return "no_device";
    case ProbeOutcome::kFound:
      return "found";
    case ProbeOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

ProbeResult ProbeResult::NotApplicable(std::string why) {
  ProbeResult r;
  r.outcome = ProbeOutcome::kNotApplicable;
  r.detail = std::move(why);
  return r;
}

ProbeResult ProbeResult::NoDevice(std::string why) {
  ProbeResult r;
  r.outcome = ProbeOutcome::kNoDevice;
  r.detail = std::move(why);
  return r;
}

ProbeResult ProbeResult::FoundGpus(std::vector<mesh::GpuDevice> gpus) {
  ProbeResult r;
  r.outcome = gpus.empty() ? ProbeOutcome::kNoDevice : ProbeOutcome::kFound;
  r.gpus = std::move(gpus);
  return r;
}

ProbeResult ProbeResult::FoundCpu(mesh::CpuInfo cpu) {
  ProbeResult r;
  r.outcome = ProbeOutcome::kFound;
  r.cpu = std::move(cpu);
  return r;
}

ProbeResult ProbeResult::Failed(std::string_view probe, std::string_view kind, std::string message,
                                std::string hint) {
  ProbeResult r;
  r.outcome = ProbeOutcome::kFailed;
  r.failure.probe = std::string(probe);
  r.failure.kind = std::string(kind);
  r.failure.message = std::move(message);
  r.failure.hint = std::move(hint);
  return r;
}

}  // namespace populi::probe
