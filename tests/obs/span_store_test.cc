// The span store over its compact form: spans come back whole, eviction is whole traces least
// recently extended first (checked against a plain model of the rule), a trace keeps at most its
// limit, the forward sink gets every span intact, and Record/Trace/stats may run concurrently.
#include <gtest/gtest.h>

#include <atomic>
#include <list>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "obs/span_compact.h"
#include "obs/span_store.h"
#include "span_expect.h"

namespace populi::obs {
namespace {

Span Attributed(const TraceId& trace, int64_t start, int i) {
  Span s;
  s.trace_id = trace;
  s.span_id = NewRootContext().span_id;
  s.name = "span " + std::to_string(i);
  s.kind = static_cast<SpanKind>(1 + i % 5);
  s.start_unix_ns = start;
  s.end_unix_ns = start + 10;
  s.service = "vox-control-plane";
  s.error = i % 3 == 0;
  if (s.error) s.status_message = "failed " + std::to_string(i);
  s.Set("store.i", i).Set("store.s", std::string(static_cast<size_t>(i % 40), 'v'));
  s.Set("store.d", i / 4.0).Set("store.b", i % 2 == 0);
  return s;
}

TEST(SpanStoreCompactTest, SpansComeBackWholeByStartThenRecordingOrder) {
  SpanStore store(100);
  const TraceId t = NewRootContext().trace_id;
  std::vector<Span> sent;
  for (int i = 0; i < 6; ++i) sent.push_back(Attributed(t, /*start=*/i < 3 ? 50 - i : 40, i));
  for (const Span& s : sent) store.Record(s);
  const auto back = store.Trace(t);
  ASSERT_EQ(back.size(), 6u);
  // Starts 50, 49, 48, 40, 40, 40: the three at 40 first, in the order recorded.
  const int order[] = {3, 4, 5, 2, 1, 0};
  for (size_t i = 0; i < back.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSameSpan(back[i], sent[static_cast<size_t>(order[i])]);
  }
  size_t bytes = 0;
  for (const Span& s : sent) bytes += CompactSpanSize(s);
  EXPECT_EQ(store.stats().bytes, bytes);
  EXPECT_TRUE(store.Trace(NewRootContext().trace_id).empty());
}

TEST(SpanStoreCompactTest, TheForwardSinkGetsEverySpanWhole) {
  SpanBuffer forwarded;
  SpanStore store(/*max_spans=*/2, &forwarded, /*max_spans_per_trace=*/1);
  const TraceId t = NewRootContext().trace_id;
  const Span a = Attributed(t, 1, 1), b = Attributed(t, 2, 2);
  store.Record(a);
  store.Record(b);  // over the trace's limit: forwarded, not kept
  const auto out = forwarded.Take();
  ASSERT_EQ(out.size(), 2u);
  ExpectSameSpan(out[0], a);
  ExpectSameSpan(out[1], b);
  ASSERT_EQ(store.Trace(t).size(), 1u);
  ExpectSameSpan(store.Trace(t)[0], a);
}

// A full trace that gets another span is still extended (it becomes the most recent), though
// the span is not kept.
TEST(SpanStoreCompactTest, AFullTraceIsStillExtendedByASpanItDoesNotKeep) {
  SpanStore store(/*max_spans=*/4, nullptr, /*max_spans_per_trace=*/2);
  const TraceId a = NewRootContext().trace_id, b = NewRootContext().trace_id;
  const TraceId c = NewRootContext().trace_id;
  store.Record(Attributed(a, 1, 1));
  store.Record(Attributed(a, 2, 2));
  store.Record(Attributed(b, 3, 3));
  store.Record(Attributed(a, 4, 4));  // a is full: not kept, but now more recent than b
  store.Record(Attributed(c, 5, 5));
  store.Record(Attributed(c, 6, 6));  // 5 held: b, the least recently extended, goes
  EXPECT_EQ(store.Trace(a).size(), 2u);
  EXPECT_TRUE(store.Trace(b).empty());
  EXPECT_EQ(store.Trace(c).size(), 2u);
  const auto stats = store.stats();
  EXPECT_EQ(stats.spans, 4u);
  EXPECT_EQ(stats.traces, 2u);
  EXPECT_EQ(stats.recorded, 6u);
  EXPECT_EQ(stats.evicted_spans, 1u);
  EXPECT_EQ(stats.over_trace_limit, 1u);
}

// The eviction rule written plainly (a list of traces, least recently extended first), run beside
// the store over a random sequence: the counts and every trace's size agree after each span.
TEST(SpanStoreCompactTest, EvictionMatchesThePlainRuleSpanForSpan) {
  constexpr size_t kMax = 37, kPerTrace = 9;
  SpanStore store(kMax, nullptr, kPerTrace);
  std::vector<TraceId> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(NewRootContext().trace_id);
  std::map<size_t, size_t> held;  // trace index → spans
  std::list<size_t> recency;
  uint64_t evicted = 0, over = 0;
  std::mt19937 rng(7);
  for (int n = 0; n < 4'000; ++n) {
    // Skewed: a few traces grow long, most get a span or two.
    const size_t t = rng() % 4 == 0 ? rng() % 3 : rng() % ids.size();
    store.Record(Attributed(ids[t], n, n));
    recency.remove(t);
    recency.push_back(t);
    if (held[t] >= kPerTrace) {
      ++over;
    } else {
      ++held[t];
    }
    size_t total = 0;
    for (const auto& [_, c] : held) total += c;
    while (total > kMax) {
      const size_t gone = recency.front();
      recency.pop_front();
      total -= held[gone];
      evicted += held[gone];
      held.erase(gone);
    }
    const auto stats = store.stats();
    ASSERT_EQ(stats.spans, total) << n;
    ASSERT_EQ(stats.traces, held.size()) << n;
    ASSERT_EQ(stats.evicted_spans, evicted) << n;
    ASSERT_EQ(stats.over_trace_limit, over) << n;
  }
  for (size_t t = 0; t < ids.size(); ++t) {
    EXPECT_EQ(store.Trace(ids[t]).size(), held.count(t) ? held[t] : 0u) << t;
  }
}

// Writers record into a few shared traces and many one-span ones while readers expand traces and
// read the counts; every span read back is whole, and the counts add up at the end. The bound is
// small, so the shared traces keep growing, being evicted and starting again while being read.
// The store's pool is not poisoned for ASan, so a race shows as a span that does not read back
// whole rather than as an ASan report.
TEST(SpanStoreCompactTest, RecordTraceAndStatsRunConcurrently) {
  constexpr int kWriters = 4, kPerWriter = 8'000;
  constexpr size_t kMax = 64;
  SpanStore store(kMax, nullptr, /*max_spans_per_trace=*/40);
  std::vector<TraceId> shared;
  for (int i = 0; i < 3; ++i) shared.push_back(NewRootContext().trace_id);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const TraceId t =
            i % 2 == 0 ? shared[static_cast<size_t>(i) % 3] : NewRootContext().trace_id;
        store.Record(Attributed(t, i, w * kPerWriter + i));
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&] {
      while (!done.load()) {
        for (const TraceId& t : shared) {
          const auto spans = store.Trace(t);
          for (size_t i = 0; i < spans.size(); ++i) {
            const auto* value = spans[i].Find("store.i");
            const bool whole = spans[i].trace_id == t && value != nullptr &&
                               spans[i].name == "span " + std::to_string(std::get<int64_t>(*value));
            const bool ordered = i == 0 || spans[i - 1].start_unix_ns <= spans[i].start_unix_ns;
            if (!whole || !ordered) ++bad;
          }
        }
        const auto stats = store.stats();
        if (stats.spans > kMax) ++bad;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[static_cast<size_t>(w)].join();
  done = true;
  for (size_t r = kWriters; r < threads.size(); ++r) threads[r].join();
  EXPECT_EQ(bad.load(), 0);
  const auto stats = store.stats();
  EXPECT_EQ(stats.recorded, uint64_t{kWriters} * kPerWriter);
  EXPECT_EQ(stats.spans + stats.evicted_spans + stats.over_trace_limit, stats.recorded);
  EXPECT_LE(stats.spans, kMax);
}

}  // namespace
}  // namespace populi::obs
