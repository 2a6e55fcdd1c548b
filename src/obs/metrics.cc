#include "obs/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace populi::obs {
namespace {

constexpr char kKeySeparator = '\xff';  // never inside a UTF-8 label value

// The lookup key for `values`, built in a per-thread buffer that keeps its capacity.
const std::string& KeyFor(std::initializer_list<std::string_view> values) {
  thread_local std::string key;
  key.clear();
  for (std::string_view v : values) {
    key.append(v);
    key.push_back(kKeySeparator);
  }
  return key;
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabel(values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  std::string_view type) {
  out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out += "# TYPE " + name + " ";
  out += type;
  out.push_back('\n');
}

std::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void CheckNames(const std::string& name, const std::vector<std::string>& labels) {
  bool ok = IsValidMetricName(name);
  for (const auto& l : labels) ok = ok && IsValidLabelName(l) && l != "le";
  if (!ok) {
    std::fprintf(stderr, "invalid metric or label name in %s\n", name.c_str());
    std::abort();
  }
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  buckets_[static_cast<size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t k = 0; k <= i && k <= bounds_->size(); ++k) {
    total += buckets_[k].load(std::memory_order_relaxed);
  }
  return total;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return bounds;
}

const std::vector<double>& SizeBuckets() {
  static const std::vector<double> bounds{1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  return bounds;
}

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> labels,
                  size_t max_series, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      labels_(std::move(labels)),
      max_series_(std::max<size_t>(1, max_series)),
      bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
}

template <typename T>
T& Family<T>::With(std::initializer_list<std::string_view> values) {
  const std::string& key = KeyFor(values);
  {
    std::lock_guard lock(mu_);
    if (auto it = by_key_.find(key); it != by_key_.end()) return *it->second;
  }
  return Create(values, key);
}

template <typename T>
T& Family<T>::Create(std::initializer_list<std::string_view> values, const std::string& key) {
  std::vector<std::string> v(values.begin(), values.end());
  v.resize(labels_.size());  // a caller passing too few values gets empty ones
  std::string k = key;
  std::lock_guard lock(mu_);
  if (auto it = by_key_.find(k); it != by_key_.end()) return *it->second;
  if (by_key_.size() + 1 >= max_series_) {
    // Past the bound: everything lands in one overflow series.
    std::fill(v.begin(), v.end(), std::string("other"));
    k.clear();
    for (const auto& s : v) k += s + kKeySeparator;
    if (auto it = by_key_.find(k); it != by_key_.end()) return *it->second;
  }
  std::unique_ptr<T> series;
  if constexpr (std::is_same_v<T, Histogram>) {
    series = std::make_unique<T>(&bounds_);
  } else {
    series = std::make_unique<T>();
  }
  T& ref = *series;
  sorted_.emplace(std::move(v), &ref);
  by_key_.emplace(std::move(k), std::move(series));
  return ref;
}

template <typename T>
std::vector<std::pair<std::vector<std::string>, const T*>> Family<T>::Series() const {
  std::lock_guard lock(mu_);
  return {sorted_.begin(), sorted_.end()};
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry& Registry::Find(const std::string& name, MetricType type) {
  auto& e = families_[name];
  if (!e.counters && !e.gauges && !e.histograms) e.type = type;
  if (e.type != type) {
    std::fprintf(stderr, "metric %s registered as two types\n", name.c_str());
    std::abort();
  }
  return e;
}

CounterFamily& Registry::Counters(const std::string& name, const std::string& help,
                                  std::vector<std::string> labels, size_t max_series) {
  std::lock_guard lock(mu_);
  Entry& e = Find(name, MetricType::kCounter);
  if (!e.counters) {
    CheckNames(name, labels);
    e.counters = std::make_unique<CounterFamily>(name, help, std::move(labels), max_series);
  }
  return *e.counters;
}

GaugeFamily& Registry::Gauges(const std::string& name, const std::string& help,
                              std::vector<std::string> labels, size_t max_series) {
  std::lock_guard lock(mu_);
  Entry& e = Find(name, MetricType::kGauge);
  if (!e.gauges) {
    CheckNames(name, labels);
    e.gauges = std::make_unique<GaugeFamily>(name, help, std::move(labels), max_series);
  }
  return *e.gauges;
}

HistogramFamily& Registry::Histograms(const std::string& name, const std::string& help,
                                      std::vector<std::string> labels, std::vector<double> bounds,
                                      size_t max_series) {
  std::lock_guard lock(mu_);
  Entry& e = Find(name, MetricType::kHistogram);
  if (!e.histograms) {
    CheckNames(name, labels);
    e.histograms = std::make_unique<HistogramFamily>(name, help, std::move(labels), max_series,
                                                     std::move(bounds));
  }
  return *e.histograms;
}

int Registry::AddCollector(Collector collector) {
  std::lock_guard lock(mu_);
  const int id = next_collector_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  // Collected families are rendered with the registered ones, in one name order; a collected
  // family whose name is registered too is dropped (one HELP/TYPE per name).
  std::vector<CollectedFamily> collected;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  for (const auto& c : collectors) {
    for (auto& f : c()) collected.push_back(std::move(f));
  }
  std::map<std::string, std::string> blocks;
  std::lock_guard lock(mu_);
  for (const auto& [name, e] : families_) {
    std::string out;
    if (e.counters) {
      AppendHeader(out, name, e.counters->help(), "counter");
      for (const auto& [values, c] : e.counters->Series()) {
        out += name;
        AppendLabels(out, e.counters->labels(), values);
        out += " " + std::to_string(c->Value()) + "\n";
      }
    } else if (e.gauges) {
      AppendHeader(out, name, e.gauges->help(), "gauge");
      for (const auto& [values, g] : e.gauges->Series()) {
        out += name;
        AppendLabels(out, e.gauges->labels(), values);
        out += " " + FormatValue(g->Value()) + "\n";
      }
    } else if (e.histograms) {
      const HistogramFamily& f = *e.histograms;
      AppendHeader(out, name, f.help(), "histogram");
      for (const auto& [values, h] : f.Series()) {
        // Buckets are read one by one while others observe: each line is a true count at
        // its moment; _count repeats the +Inf bucket so the two always agree.
        const auto& b = f.bounds();
        for (size_t i = 0; i < b.size(); ++i) {
          out += name + "_bucket";
          AppendLabels(out, f.labels(), values, "le", FormatValue(b[i]));
          out += " " + std::to_string(h->CumulativeCount(i)) + "\n";
        }
        const uint64_t total = h->CumulativeCount(b.size());
        out += name + "_bucket";
        AppendLabels(out, f.labels(), values, "le", "+Inf");
        out += " " + std::to_string(total) + "\n";
        out += name + "_sum";
        AppendLabels(out, f.labels(), values);
        out += " " + FormatValue(h->Sum()) + "\n";
        out += name + "_count";
        AppendLabels(out, f.labels(), values);
        out += " " + std::to_string(total) + "\n";
      }
    }
    blocks.emplace(name, std::move(out));
  }
  for (const auto& f : collected) {
    if (blocks.count(f.name) != 0 || !IsValidMetricName(f.name)) continue;
    std::string out;
    AppendHeader(out, f.name, f.help, TypeName(f.type));
    for (const auto& [values, v] : f.samples) {
      out += f.name;
      AppendLabels(out, f.labels, values);
      out += " " + FormatValue(v) + "\n";
    }
    blocks.emplace(f.name, std::move(out));
  }
  std::string text;
  for (const auto& [name, block] : blocks) text += block;
  return text;
}

Registry& Registry::Default() {
  static Registry* registry = new Registry();  // never destroyed: used until the process exits
  return *registry;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string EscapeHelp(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeLabel(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {
bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}
}  // namespace

bool IsValidMetricName(std::string_view name) {
  return ValidName(name, true);
}

bool IsValidLabelName(std::string_view name) {
  return ValidName(name, false) && name.substr(0, 2) != "__";
}

}  // namespace populi::obs
