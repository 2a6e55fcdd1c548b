#include "probe/cache.h"

#include <algorithm>

namespace populi::probe {

ProbeCache::ProbeCache(ProbePipeline pipeline, const Clock& clock, int64_t ttl_secs)
    : pipeline_(std::move(pipeline)),
      clock_(&clock),
      ttl_ms_(std::max<int64_t>(ttl_secs, 0) * 1000) {}

bool ProbeCache::ExpiredLocked(const ProbeReport* report) const {
  if (report == nullptr) return true;
  int64_t ttl = ttl_ms_;
  if (!report->failures.empty()) ttl = std::min(ttl, kFailedProbeRetrySecs * 1000);
  return clock_->NowMs() - report->probed_at_ms >= ttl;
}

bool ProbeCache::Expired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ExpiredLocked(report_.get());
}

std::shared_ptr<const ProbeReport> ProbeCache::Get() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ExpiredLocked(report_.get())) return report_;
  }
  std::lock_guard<std::mutex> probing(probe_mu_);
  {
    // Another caller may have probed while this one waited.
    std::lock_guard<std::mutex> lock(mu_);
    if (!ExpiredLocked(report_.get())) return report_;
  }
  auto fresh = std::make_shared<const ProbeReport>(pipeline_.Run());
  std::lock_guard<std::mutex> lock(mu_);
  report_ = fresh;
  ++cycles_;
  return fresh;
}

std::shared_ptr<const ProbeReport> ProbeCache::Refresh() {
  std::lock_guard<std::mutex> probing(probe_mu_);
  auto fresh = std::make_shared<const ProbeReport>(pipeline_.Run());
  std::lock_guard<std::mutex> lock(mu_);
  report_ = fresh;
  ++cycles_;
  return fresh;
}

std::shared_ptr<const ProbeReport> ProbeCache::Peek() const {
  std::lock_guard<std::mutex> lock(mu_);
  return report_;
}

int64_t ProbeCache::cycles() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cycles_;
}

bool ProbeCache::FillNodeHardware(mesh::NodeRecord* record) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (report_ == nullptr) return false;
  if (report_->cpu) record->cpu = *report_->cpu;
  record->gpus = report_->gpus;
  record->probe_failures = report_->failures;
  record->gpu_inventory_source = "probed";
  record->gpu_truth_layer = "layer_a_verified";
  return true;
}

}  // namespace populi::probe
