// Spans: bounded attributes, recording once, the control plane's bounded store (whole traces
// evicted least recently extended first), the agent's buffer, the API's JSON form and the
// OTLP/HTTP JSON shape, and the exporter's bounded queue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "mesh/json.h"
#include "obs/otlp_exporter.h"
#include "obs/span_json.h"
#include "obs/span_store.h"

namespace populi::obs {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

Span SpanIn(const TraceContext& trace, std::string name) {
  Span s;
  s.trace_id = trace.trace_id;
  s.span_id = ChildOf(trace).span_id;
  s.parent_span_id = trace.span_id;
  s.name = std::move(name);
  s.start_unix_ns = 1'000;
  s.end_unix_ns = 2'000;
  s.service = "vox-control-plane";
  return s;
}

TEST(SpanTest, AttributesAreTypedBoundedAndReplaced) {
  Span s;
  s.Set("a.int", 7).Set("a.big", int64_t{1} << 40).Set("a.bool", true).Set("a.double", 0.5);
  s.Set("a.str", std::string(1000, 'x'));
  EXPECT_EQ(std::get<int64_t>(*s.Find("a.int")), 7);
  EXPECT_EQ(std::get<int64_t>(*s.Find("a.big")), int64_t{1} << 40);
  EXPECT_TRUE(std::get<bool>(*s.Find("a.bool")));
  EXPECT_EQ(std::get<double>(*s.Find("a.double")), 0.5);
  EXPECT_EQ(std::get<std::string>(*s.Find("a.str")).size(), kMaxAttributeBytes);
  s.Set("a.int", 8);
  EXPECT_EQ(std::get<int64_t>(*s.Find("a.int")), 8);
  for (int i = 0; i < 100; ++i) s.Set("k" + std::to_string(i), i);
  EXPECT_EQ(s.attributes.size(), kMaxAttributes);
  EXPECT_EQ(s.dropped_attributes, 100u - (kMaxAttributes - 5));
  // A multi-byte character is not cut in half.
  Span u;
  u.Set("u", std::string(kMaxAttributeBytes - 1, 'x') + "\xc3\xa9");
  EXPECT_EQ(std::get<std::string>(*u.Find("u")).size(), kMaxAttributeBytes - 1);
}

// A key is kept once for the process, whichever thread or buffer it came from, and a span outlives
// the string its key was read from (as when an agent's spans are parsed from a request body).
TEST(SpanTest, AttributeKeysAreInternedOnceAndOutliveTheirSource) {
  Span a;
  {
    std::string key = "vox.mesh.interned_test_key";
    a.Set(key, 1);
    key.assign(key.size(), '#');  // the caller's buffer changes; the span's key must not
  }
  Span b;
  std::thread([&b] { b.Set(std::string("vox.mesh.interned_test_key"), 2); }).join();
  ASSERT_EQ(a.attributes.size(), 1u);
  ASSERT_EQ(b.attributes.size(), 1u);
  EXPECT_EQ(a.attributes[0].key, "vox.mesh.interned_test_key");
  EXPECT_EQ(a.attributes[0].key.data(), b.attributes[0].key.data());
  EXPECT_EQ(InternAttributeKey(std::string(300, 'k')).size(), kMaxAttributeBytes);
}

TEST(SpanTest, AnActiveSpanRecordsOnceAsAChildAndNotWhenUnsampled) {
  SpanBuffer sink;
  const TraceContext parent = NewRootContext();
  {
    ActiveSpan span(&sink, "work", SpanKind::kServer, parent);
    span.Set("vox.mesh.node_id", std::string("n1"));
    EXPECT_EQ(span.context().trace_id, parent.trace_id);
    span.End();
    span.End();
  }
  auto spans = sink.Take();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].parent_span_id, parent.span_id);
  EXPECT_EQ(spans[0].kind, SpanKind::kServer);
  EXPECT_GE(spans[0].end_unix_ns, spans[0].start_unix_ns);

  TraceContext unsampled = parent;
  unsampled.flags = 0;
  { ActiveSpan quiet(&sink, "quiet", SpanKind::kInternal, unsampled); }
  EXPECT_TRUE(sink.Take().empty());

  { ActiveSpan root(&sink, "root", SpanKind::kInternal, TraceContext{}); }
  spans = sink.Take();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_FALSE(spans[0].has_parent());
}

TEST(SpanTest, TheCurrentContextIsScopedPerThread) {
  EXPECT_EQ(CurrentContext(), nullptr);
  const TraceContext a = NewRootContext();
  {
    ScopedContext outer(a);
    ASSERT_NE(CurrentContext(), nullptr);
    EXPECT_EQ(CurrentContext()->span_id, a.span_id);
    std::thread([] { EXPECT_EQ(CurrentContext(), nullptr); }).join();
    const TraceContext b = ChildOf(a);
    {
      ScopedContext inner(b);
      EXPECT_EQ(CurrentContext()->span_id, b.span_id);
    }
    EXPECT_EQ(CurrentContext()->span_id, a.span_id);
  }
  EXPECT_EQ(CurrentContext(), nullptr);
}

TEST(SpanStoreTest, EvictsWholeTracesLeastRecentlyExtendedFirst) {
  SpanBuffer forwarded;
  SpanStore store(/*max_spans=*/4, &forwarded);
  const TraceContext a = NewRootContext(), b = NewRootContext(), c = NewRootContext();
  store.Record(SpanIn(a, "a1"));
  store.Record(SpanIn(b, "b1"));
  store.Record(SpanIn(a, "a2"));  // a is now the most recently extended
  store.Record(SpanIn(b, "b2"));
  store.Record(SpanIn(c, "c1"));  // over the bound: a is the least recently extended
  EXPECT_TRUE(store.Trace(a.trace_id).empty());
  EXPECT_EQ(store.Trace(b.trace_id).size(), 2u);
  EXPECT_EQ(store.Trace(c.trace_id).size(), 1u);
  const auto stats = store.stats();
  EXPECT_EQ(stats.spans, 3u);
  EXPECT_EQ(stats.evicted_spans, 2u);
  EXPECT_EQ(forwarded.Take().size(), 5u);  // everything is forwarded, kept or not
}

TEST(SpanStoreTest, OneTraceHoldsAtMostItsLimitAndSpansComeBackByStart) {
  SpanStore store(100, nullptr, /*max_spans_per_trace=*/3);
  const TraceContext t = NewRootContext();
  for (int i = 5; i > 0; --i) {
    Span s = SpanIn(t, "s" + std::to_string(i));
    s.start_unix_ns = i;
    store.Record(s);
  }
  const auto spans = store.Trace(t.trace_id);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].name, "s3");
  EXPECT_EQ(spans[2].name, "s5");
  EXPECT_EQ(store.stats().over_trace_limit, 2u);
}

TEST(SpanBufferTest, DropsPastItsBoundAndCounts) {
  SpanBuffer buffer(2);
  const TraceContext t = NewRootContext();
  for (int i = 0; i < 5; ++i) buffer.Record(SpanIn(t, "x"));
  EXPECT_EQ(buffer.Take().size(), 2u);
  EXPECT_EQ(buffer.dropped(), 3u);
  EXPECT_TRUE(buffer.Take().empty());
}

TEST(SpanJsonTest, TheApiFormRoundTripsAndIsStrict) {
  const TraceContext t = NewRootContext();
  Span s = SpanIn(t, "task.run");
  s.kind = SpanKind::kConsumer;
  s.error = true;
  s.status_message = "exit code 3";
  s.node_id = "gpu-1";
  s.Set("vox.mesh.attempt", 2).Set("vox.mesh.task_id", std::string("t-1")).Set("x", 1.5);
  auto back = SpanBatchFromJson(*mesh::ParseJson(SpanBatchJson({s})));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 1u);
  const Span& r = (*back)[0];
  EXPECT_EQ(r.trace_id, s.trace_id);
  EXPECT_EQ(r.parent_span_id, s.parent_span_id);
  EXPECT_EQ(r.kind, SpanKind::kConsumer);
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.status_message, "exit code 3");
  EXPECT_EQ(r.node_id, "gpu-1");
  EXPECT_EQ(std::get<int64_t>(*r.Find("vox.mesh.attempt")), 2);
  EXPECT_EQ(std::get<std::string>(*r.Find("vox.mesh.task_id")), "t-1");

  json::value v = ToJson(s);
  const auto refused = [&](const std::function<void(json::object&)>& edit, const char* what) {
    json::value copy = v;
    edit(copy.as_object());
    auto parsed = SpanFromJson(copy);
    EXPECT_FALSE(parsed.ok()) << what;
    if (!parsed.ok()) {
      EXPECT_FALSE(parsed.status().hint().empty());
    }
  };
  refused([](json::object& o) { o["trace_id"] = "XYZ"; }, "bad trace id");
  refused([](json::object& o) { o["span_id"] = "0000000000000000"; }, "zero span id");
  refused([](json::object& o) { o["kind"] = "sideways"; }, "unknown kind");
  refused([](json::object& o) { o["end_unix_ns"] = 1; }, "end before start");
  refused([](json::object& o) { o["surprise"] = 1; }, "unknown field");
  refused(
      [](json::object& o) {
        o["attributes"] = json::object{{"a", json::array{}}};
      },
      "array attribute");
  refused([](json::object& o) { o["name"] = ""; }, "empty name");
}

TEST(SpanJsonTest, OtlpJsonHasTheExportTraceServiceRequestShape) {
  const TraceContext t = NewRootContext();
  Span server = SpanIn(t, "POST /v1/populi/tasks");
  server.kind = SpanKind::kServer;
  server.start_unix_ns = 1'700'000'000'123'456'789;
  server.end_unix_ns = 1'700'000'000'223'456'789;
  server.Set("http.response.status_code", 201).Set("vox.mesh.route", std::string("tasks.submit"));
  Span agent = SpanIn(t, "task.run");
  agent.service = "vox-agent";
  agent.node_id = "gpu-1";
  agent.error = true;
  agent.status_message = "lease lost";
  agent.Set("ok", false).Set("ratio", 0.25);

  auto doc = mesh::ParseJson(OtlpTracesJson({server, agent}, "1.2.3"));
  ASSERT_TRUE(doc.ok());
  const auto& resources = doc->at("resourceSpans").as_array();
  ASSERT_EQ(resources.size(), 2u);  // one per (service, node)
  std::map<std::string, const json::object*> by_service;
  for (const auto& r : resources) {
    for (const auto& a : r.at("resource").at("attributes").as_array()) {
      if (a.at("key") == "service.name") {
        by_service[std::string(a.at("value").at("stringValue").as_string())] = &r.as_object();
      }
    }
  }
  ASSERT_EQ(by_service.count("vox-control-plane"), 1u);
  ASSERT_EQ(by_service.count("vox-agent"), 1u);
  const auto& scope = by_service["vox-control-plane"]->at("scopeSpans").as_array()[0];
  EXPECT_EQ(scope.at("scope").at("name"), "populi");
  const auto& span = scope.at("spans").as_array()[0].as_object();
  EXPECT_EQ(span.at("traceId"), json::value(t.TraceIdHex()));  // hex, not base64
  EXPECT_EQ(span.at("parentSpanId"), json::value(t.SpanIdHex()));
  EXPECT_EQ(span.at("kind"), 2);
  EXPECT_EQ(span.at("startTimeUnixNano"), "1700000000123456789");  // 64-bit as a string
  EXPECT_EQ(span.at("endTimeUnixNano"), "1700000000223456789");
  bool saw_status = false;
  for (const auto& a : span.at("attributes").as_array()) {
    if (a.at("key") == "http.response.status_code") {
      EXPECT_EQ(a.at("value").at("intValue"), "201");
      saw_status = true;
    }
  }
  EXPECT_TRUE(saw_status);
  const auto& failed =
      by_service["vox-agent"]->at("scopeSpans").as_array()[0].at("spans").as_array()[0];
  EXPECT_EQ(failed.at("status").at("code"), 2);
  EXPECT_EQ(failed.at("status").at("message"), "lease lost");
  bool saw_node = false;
  for (const auto& a : by_service["vox-agent"]->at("resource").at("attributes").as_array()) {
    saw_node = saw_node ||
               (a.at("key") == "vox.mesh.node_id" && a.at("value").at("stringValue") == "gpu-1");
  }
  EXPECT_TRUE(saw_node);
}

TEST(OtlpExporterTest, BatchesEverythingToThePostFunction) {
  std::mutex mu;
  std::vector<std::string> bodies;
  OtlpExporterOptions options;
  options.max_batch = 3;
  options.flush_interval_ms = 20;
  {
    OtlpExporter exporter(options, [&](const std::string& body) {
      std::lock_guard lock(mu);
      bodies.push_back(body);
      return Status::Ok();
    });
    const TraceContext t = NewRootContext();
    for (int i = 0; i < 7; ++i) exporter.Record(SpanIn(t, "s"));
    for (int i = 0; i < 500 && exporter.stats().exported < 7; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(exporter.stats().exported, 7u);
    EXPECT_EQ(exporter.stats().dropped, 0u);
  }
  size_t spans = 0;
  for (const auto& b : bodies) {
    auto doc = mesh::ParseJson(b);
    ASSERT_TRUE(doc.ok());
    for (const auto& r : doc->at("resourceSpans").as_array()) {
      const size_t n = r.at("scopeSpans").as_array()[0].at("spans").as_array().size();
      EXPECT_LE(n, 3u);
      spans += n;
    }
  }
  EXPECT_EQ(spans, 7u);
}

TEST(OtlpExporterTest, AStalledCollectorFillsTheQueueAndRecordNeverWaits) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> posts{0};
  OtlpExporterOptions options;
  options.max_queue = 10;
  options.max_batch = 2;
  options.flush_interval_ms = 10;
  OtlpExporter exporter(options, [&](const std::string&) {
    ++posts;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });  // the collector never answers until released
    return Status(Code::kTimeout, "collector timed out", "-");
  });
  const TraceContext t = NewRootContext();
  exporter.Record(SpanIn(t, "first"));
  exporter.Record(SpanIn(t, "second"));
  for (int i = 0; i < 500 && posts == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(posts.load(), 1);  // the exporter's thread is stuck in the post
  for (int i = 0; i < 1000; ++i) exporter.Record(SpanIn(t, "more"));  // returns: never blocks
  const auto stats = exporter.stats();
  EXPECT_EQ(stats.queued, 10u);
  EXPECT_EQ(stats.dropped, 990u);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 500 && exporter.stats().failed_spans < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(exporter.stats().failed_batches, 1u);
}

TEST(OtlpExporterTest, ShutdownDoesNotWaitOnACollectorThatNeverAnswers) {
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto posted = std::make_shared<std::atomic<int>>(0);
  OtlpExporterOptions options;
  options.flush_interval_ms = 10;
  options.shutdown_grace_ms = 50;
  {
    OtlpExporter exporter(options, [release, posted](const std::string&) {
      ++*posted;
      while (!*release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return Status::Ok();
    });
    exporter.Record(SpanIn(NewRootContext(), "stuck"));
    for (int i = 0; i < 500 && *posted == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(posted->load(), 1);
  }  // returns although the post has not: the sending thread holds its own state
  *release = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it end before the test does
}

}  // namespace
}  // namespace populi::obs
