// The topic channel between stores on one PostgreSQL schema (store/topic_channel.h,
// store/postgres/topic_listener.h): a topic published through one store reaches the other
// store's sink and not its own, stays within its schema, and a listener connection killed on the
// server reconnects and wakes everyone. Also the wire form (topic_wire.h), which needs no server.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/conformance.h"
#include "store/postgres.h"
#include "store/postgres/conn.h"
#include "store/postgres/topic_wire.h"
#include "store/topic_channel.h"
#include "util/random.h"

namespace populi::store::testing {
namespace {

using postgres::DecodeTopicPayload;
using postgres::EncodeTopicPayloads;
using postgres::TopicQueue;

constexpr auto kPatience = std::chrono::seconds(30);  // generous: a slow machine, not a claim

// Records what a store's channel hands it.
class RecordingSink final : public TopicSink {
 public:
  void OnTopic(std::string_view topic) override {
    std::lock_guard lock(mu_);
    topics_.emplace_back(topic);
    cv_.notify_all();
  }
  void OnMissed() override {
    std::lock_guard lock(mu_);
    ++missed_;
    cv_.notify_all();
  }
  bool WaitForTopic(const std::string& topic) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] {
      return std::find(topics_.begin(), topics_.end(), topic) != topics_.end();
    });
  }
  bool WaitForMissed(int at_least) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return missed_ >= at_least; });
  }
  std::vector<std::string> topics() {
    std::lock_guard lock(mu_);
    return topics_;
  }
  int missed() {
    std::lock_guard lock(mu_);
    return missed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> topics_;
  int missed_ = 0;
};

class PostgresTopics : public ::testing::Test {
 protected:
  void SetUp() override {
    POPULI_REQUIRE_POSTGRES();
    schema_ = "topics_" + RandomHex(6);
  }
  void TearDown() override {
    for (auto& store : stores_) store->topics()->SetSink(nullptr);
  }

  // A store on `schema` whose channel hands its topics to `sink`; null (and a failure) when it
  // cannot be opened or has no channel.
  MeshStore* Open(const std::string& schema, RecordingSink& sink) {
    PostgresOptions options;
    options.dsn = TestPostgresDsn();
    options.schema = schema;
    options.reader_pool_size = 1;
    auto store = OpenPostgresStore(options);
    if (!store.ok() || (*store)->topics() == nullptr) {
      ADD_FAILURE() << (store.ok() ? "no topic channel" : store.status().ToString());
      return nullptr;
    }
    stores_.push_back(std::move(store).value());
    stores_.back()->topics()->SetSink(&sink);
    return stores_.back().get();
  }

  std::string schema_;
  std::vector<std::unique_ptr<MeshStore>> stores_;
};

TEST_F(PostgresTopics, ATopicReachesTheOtherStoreOnTheSchemaAndNotItsOwn) {
  RecordingSink sink_a, sink_b;
  MeshStore* a = Open(schema_, sink_a);
  MeshStore* b = Open(schema_, sink_b);
  ASSERT_TRUE(a && b);
  a->topics()->Publish("inbox:w1");
  ASSERT_TRUE(sink_b.WaitForTopic("inbox:w1"));
  // Notifications arrive in commit order: once a hears b's marker, it would have heard its own
  // topic, sent before, had it not been skipped.
  b->topics()->Publish("marker:b");
  ASSERT_TRUE(sink_a.WaitForTopic("marker:b"));
  EXPECT_EQ(sink_a.topics(), std::vector<std::string>{"marker:b"});
  EXPECT_EQ(sink_b.topics(), std::vector<std::string>{"inbox:w1"});
  EXPECT_EQ(sink_a.missed() + sink_b.missed(), 0);
}

TEST_F(PostgresTopics, ManyTopicsArriveWholeAndStayWithinTheirSchema) {
  RecordingSink sink_a, sink_b, sink_c, sink_d;
  MeshStore* a = Open(schema_, sink_a);
  MeshStore* b = Open(schema_, sink_b);
  MeshStore* c = Open(schema_ + "_other", sink_c);
  MeshStore* d = Open(schema_ + "_other", sink_d);
  ASSERT_TRUE(a && b && c && d);
  // Another schema's topic, committed (d heard it) before a publishes anything.
  c->topics()->Publish("inbox:elsewhere");
  ASSERT_TRUE(sink_d.WaitForTopic("inbox:elsewhere"));
  // More than one payload's worth (about 40 KB), published faster than they go out.
  std::set<std::string> sent;
  for (int i = 0; i < 400; ++i) {
    const std::string topic = "task:" + std::to_string(i) + std::string(90, 'x');
    a->topics()->Publish(topic);
    a->topics()->Publish(topic);  // coalesced with the first
    sent.insert(topic);
  }
  a->topics()->Publish("last");
  ASSERT_TRUE(sink_b.WaitForTopic("last"));
  const std::vector<std::string> got = sink_b.topics();
  std::set<std::string> received(got.begin(), got.end());
  received.erase("last");
  EXPECT_EQ(received, sent);
  EXPECT_EQ(std::count(got.begin(), got.end(), "inbox:elsewhere"), 0);
  EXPECT_TRUE(sink_c.topics().empty());
}

TEST_F(PostgresTopics, AListenerConnectionKilledOnTheServerReconnectsAndWakesEveryone) {
  RecordingSink sink_a, sink_b;
  MeshStore* a = Open(schema_, sink_a);
  MeshStore* b = Open(schema_, sink_b);
  ASSERT_TRUE(a && b);
  a->topics()->Publish("before");
  ASSERT_TRUE(sink_b.WaitForTopic("before"));
  ASSERT_EQ(sink_b.missed(), 0);

  auto admin = postgres::Conn::Open(TestPostgresDsn(), "public");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto killed = (*admin)->QueryInt(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
      postgres::TopicListenerName(schema_) + "'");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  ASSERT_EQ(*killed, 2);  // a's and b's
  // Each hears of the loss, and again once it listens anew.
  ASSERT_TRUE(sink_a.WaitForMissed(2));
  ASSERT_TRUE(sink_b.WaitForMissed(2));

  a->topics()->Publish("after");
  EXPECT_TRUE(sink_b.WaitForTopic("after"));
  b->topics()->Publish("back");
  EXPECT_TRUE(sink_a.WaitForTopic("back"));
}

// ---- the wire form ------------------------------------------------------------------------

TEST(TopicWire, ChannelNamesAreValidIdentifiersAndDifferPerSchema) {
  EXPECT_EQ(postgres::TopicChannelName("populi"), "populi_topics_populi");
  const std::string long_a = postgres::TopicChannelName(std::string(60, 'a') + "1");
  const std::string long_b = postgres::TopicChannelName(std::string(60, 'a') + "2");
  EXPECT_LE(long_a.size(), 63u);
  EXPECT_NE(long_a, long_b);
  EXPECT_EQ(long_a, postgres::TopicChannelName(std::string(60, 'a') + "1"));
}

TEST(TopicWire, PayloadsStayUnderTheLimitAndDecodeToTheTopicsInOrder) {
  std::vector<std::string> topics;
  for (int i = 0; i < 300; ++i)
    topics.push_back("inbox:" + std::to_string(i) + std::string(50, 'r'));
  const std::vector<std::string> payloads = EncodeTopicPayloads("replica1", topics);
  ASSERT_GT(payloads.size(), 1u);
  std::vector<std::string> decoded;
  for (const std::string& payload : payloads) {
    EXPECT_LE(payload.size(), postgres::kMaxPayloadBytes);
    auto d = DecodeTopicPayload(payload);
    ASSERT_TRUE(d.has_value()) << payload;
    EXPECT_EQ(d->replica, "replica1");
    decoded.insert(decoded.end(), d->topics.begin(), d->topics.end());
  }
  EXPECT_EQ(decoded, topics);
}

TEST(TopicWire, TopicsThatCannotBeSentBecomeEveryTopic) {
  const auto payloads = EncodeTopicPayloads("r", {"a\nb", std::string(2'000, 't'), ""});
  ASSERT_EQ(payloads.size(), 1u);
  auto d = DecodeTopicPayload(payloads[0]);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->topics, (std::vector<std::string>{"*", "*", "*"}));
  EXPECT_FALSE(DecodeTopicPayload("2 r\ntopic").has_value());  // a later format
  EXPECT_FALSE(DecodeTopicPayload("1 r").has_value());
}

TEST(TopicWire, TheQueueCoalescesKeepingEachTopicsLatestPlace) {
  TopicQueue q;
  EXPECT_TRUE(q.empty());
  q.Push("dropped:n");
  q.Push("events");
  q.Push("held:n");
  q.Push("dropped:n");
  EXPECT_EQ(q.Take(), (std::vector<std::string>{"events", "held:n", "dropped:n"}));
  EXPECT_TRUE(q.empty());
  // What could not be sent goes back in front of what was published since; a topic published
  // again since keeps its newer place.
  q.Push("new");
  q.Push("b");
  q.Restore({"a", "b", "c"});
  EXPECT_EQ(q.Take(), (std::vector<std::string>{"a", "c", "new", "b"}));
  for (size_t i = 0; i <= postgres::kMaxQueuedTopics; ++i) q.Push("t" + std::to_string(i));
  EXPECT_EQ(q.Take(), std::vector<std::string>{"*"});
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace populi::store::testing
