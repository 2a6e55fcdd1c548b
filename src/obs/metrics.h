// Process metrics in the Prometheus text exposition format 0.0.4 (docs/metrics.md lists them).
//
// A Registry holds metric families: counters, gauges and histograms, each with fixed label
// names. A family hands out one series per label-value tuple; the series is created on first
// use and lives as long as the registry, so a caller may keep the reference and update it
// with one atomic operation (no lock, no allocation). Looking a series up by its values takes
// the family's lock and builds no string once the calling thread's key buffer has grown.
//
// Label values must come from a bounded set (route names, states, node ids of one mesh): a
// family holds at most `max_series` series, and values past that are counted under the tuple
// whose every value is "other". Gauges that are really someone else's state (the store's row
// counts, inbox depths) are computed at scrape time by a collector instead of being kept here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace populi::obs {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets by upper bound (the `le` label); +Inf is implied.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  // Observations <= bounds[i] (cumulative), for i in [0, bounds.size()].
  uint64_t CumulativeCount(size_t i) const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket, not cumulative; last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Bucket bounds for durations in seconds: 0.5 ms … 10 s.
const std::vector<double>& LatencyBuckets();
// Bounds for small counts (1 … 512, powers of two).
const std::vector<double>& SizeBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One family: a name, help text, label names and its series.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels, size_t max_series,
         std::vector<double> bounds = {});

  // The series for these label values (one per label name, in order).
  T& With(std::initializer_list<std::string_view> values);
  // The series of a family without labels.
  T& Get() { return With({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& bounds() const { return bounds_; }  // histograms
  // Every series, by label values, sorted (for rendering and tests).
  std::vector<std::pair<std::vector<std::string>, const T*>> Series() const;

 private:
  T& Create(std::initializer_list<std::string_view> values, const std::string& key);

  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  size_t max_series_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<T>> by_key_;  // values joined by '\xff'
  std::map<std::vector<std::string>, T*> sorted_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// A sample computed at scrape time by a collector.
struct CollectedFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;  // kGauge or kCounter
  std::vector<std::string> labels;
  std::vector<std::pair<std::vector<std::string>, double>> samples;  // values per label tuple
};
using Collector = std::function<std::vector<CollectedFamily>()>;

class Registry {
 public:
  static constexpr size_t kDefaultMaxSeries = 512;

  // The family of this name, created on first call. Asking again for the same name returns
  // the same family (its help, labels and bounds are those of the first call); asking for it as
  // another type is a programming error and aborts.
  CounterFamily& Counters(const std::string& name, const std::string& help,
                          std::vector<std::string> labels = {},
                          size_t max_series = kDefaultMaxSeries);
  GaugeFamily& Gauges(const std::string& name, const std::string& help,
                      std::vector<std::string> labels = {}, size_t max_series = kDefaultMaxSeries);
  HistogramFamily& Histograms(const std::string& name, const std::string& help,
                              std::vector<std::string> labels, std::vector<double> bounds,
                              size_t max_series = kDefaultMaxSeries);

  // Adds a scrape-time collector; the returned id removes it. A collector runs on the
  // scraping thread and may read a store; it must not call back into this registry.
  int AddCollector(Collector collector);
  void RemoveCollector(int id);

  // Every family, sorted by name, in the text exposition format 0.0.4.
  std::string Render() const;

  // The process's registry: what the HTTP server, the store, the dispatcher and the agent
  // record into, and what GET /metrics renders.
  static Registry& Default();

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<GaugeFamily> gauges;
    std::unique_ptr<HistogramFamily> histograms;
  };
  Entry& Find(const std::string& name, MetricType type);

  mutable std::mutex mu_;
  std::map<std::string, Entry> families_;
  std::map<int, Collector> collectors_;
  int next_collector_ = 1;
};

// Formatting used by Render (exposed for tests).
std::string FormatValue(double v);            // 1, 0.25, +Inf, -Inf, NaN
std::string EscapeHelp(std::string_view s);   // \\ and \n
std::string EscapeLabel(std::string_view s);  // \\, \" and \n
// Whether `name` is a valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*; labels without ':').
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace populi::obs
