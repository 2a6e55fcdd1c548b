// The metric registry and its text exposition format (0.0.4).
#include "obs/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace populi::obs {
namespace {

TEST(MetricsFormat, ValuesEscapingAndNames) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
  EXPECT_EQ(EscapeHelp("a\\b\nc\"d"), "a\\\\b\\nc\"d");
  EXPECT_EQ(EscapeLabel("a\\b\nc\"d"), "a\\\\b\\nc\\\"d");
  EXPECT_TRUE(IsValidMetricName("populi_http_requests_total"));
  EXPECT_TRUE(IsValidMetricName("a:b"));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("has-dash"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
}

TEST(MetricsRegistry, RendersCountersGaugesWithHelpTypeAndLabels) {
  Registry r;
  auto& requests = r.Counters("t_requests_total", "Requests.\nBy route", {"route", "status"});
  requests.With({"tasks.get", "200"}).Inc();
  requests.With({"tasks.get", "200"}).Inc(2);
  requests.With({"odd\"route", "404"}).Inc();
  r.Gauges("t_depth", "Depth.").Get().Set(7.5);
  const std::string text = r.Render();
  EXPECT_NE(text.find("# HELP t_requests_total Requests.\\nBy route\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE t_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("t_requests_total{route=\"tasks.get\",status=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("t_requests_total{route=\"odd\\\"route\",status=\"404\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE t_depth gauge\nt_depth 7.5\n"), std::string::npos) << text;
  // Families come out sorted by name.
  EXPECT_LT(text.find("t_depth"), text.find("t_requests_total"));
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.Histograms("t_latency_seconds", "Latency.", {"route"}, {0.1, 1});
  auto& s = h.With({"a"});
  s.Observe(0.05);
  s.Observe(0.1);  // on a bound: counted in that bucket (le = less or equal)
  s.Observe(0.5);
  s.Observe(3);
  const std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE t_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("t_latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("t_latency_seconds_bucket{route=\"a\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("t_latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("t_latency_seconds_sum{route=\"a\"} 3.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_latency_seconds_count{route=\"a\"} 4\n"), std::string::npos);
}

TEST(MetricsRegistry, SameNameReturnsSameFamilyAndSeriesAreStable) {
  Registry r;
  auto& a = r.Counters("t_total", "x", {"k"});
  auto& b = r.Counters("t_total", "ignored", {"k"});
  EXPECT_EQ(&a, &b);
  Counter& c = a.With({"v"});
  EXPECT_EQ(&c, &b.With({"v"}));
  c.Inc();
  EXPECT_EQ(b.With({"v"}).Value(), 1u);
}

TEST(MetricsRegistry, LabelValuesPastTheBoundGoToOneOverflowSeries) {
  Registry r;
  auto& f = r.Counters("t_bounded_total", "x", {"node"}, /*max_series=*/4);
  for (int i = 0; i < 100; ++i) f.With({"node-" + std::to_string(i)}).Inc();
  const auto series = f.Series();
  EXPECT_LE(series.size(), 4u);
  uint64_t total = 0;
  for (const auto& [values, c] : series) total += c->Value();
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(f.With({"node-99"}).Value(), f.With({"other"}).Value());
}

TEST(MetricsRegistry, CollectorsRenderAtScrapeTimeAndCanBeRemoved) {
  Registry r;
  int calls = 0;
  const int id = r.AddCollector([&calls] {
    ++calls;
    CollectedFamily f{"t_rows", "Rows per table.", MetricType::kGauge, {"table"}, {}};
    f.samples.push_back({{"events"}, 12});
    return std::vector<CollectedFamily>{f};
  });
  std::string text = r.Render();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(text.find("# TYPE t_rows gauge\nt_rows{table=\"events\"} 12\n"), std::string::npos)
      << text;
  r.RemoveCollector(id);
  text = r.Render();
  EXPECT_EQ(text.find("t_rows"), std::string::npos);
  EXPECT_EQ(calls, 1);
}

TEST(MetricsRegistry, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& f = r.Counters("t_concurrent_total", "x", {"k"});
  auto& h = r.Histograms("t_concurrent_seconds", "x", {}, LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&f, &h, t] {
      for (int i = 0; i < 1000; ++i) {
        f.With({t % 2 == 0 ? "even" : "odd"}).Inc();
        h.Get().Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.With({"even"}).Value() + f.With({"odd"}).Value(), 4000u);
  EXPECT_EQ(h.Get().Count(), 4000u);
}

}  // namespace
}  // namespace populi::obs
