#include "store/postgres/topic_listener.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "obs/metrics.h"
#include "store/postgres.h"
#include "store/postgres/conn.h"
#include "util/random.h"

namespace populi::store::postgres {
namespace {

constexpr int kMinBackoffMs = 100;
constexpr int kMaxBackoffMs = 5'000;
constexpr int kConnectTimeoutMs = 10'000;

// What the channel records in the process's metric registry (docs/metrics.md).
struct TopicMetrics {
  obs::Counter& sent;
  obs::Counter& received;
  obs::Counter& reconnects;

  static TopicMetrics& Get() {
    static TopicMetrics* metrics = new TopicMetrics{
        obs::Registry::Default()
            .Counters("populi_store_topics_sent_total",
                      "Wake-up topics this replica sent to the other replicas on the store "
                      "(PostgreSQL NOTIFY), after coalescing.")
            .Get(),
        obs::Registry::Default()
            .Counters("populi_store_topics_received_total",
                      "Wake-up topics received from the other replicas on the store.")
            .Get(),
        obs::Registry::Default()
            .Counters("populi_store_topic_reconnects_total",
                      "Times the store's LISTEN connection was lost and listening again (each "
                      "wakes every waiter once).")
            .Get()};
    return *metrics;
  }
};

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void QuietNotices(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<TopicListener>> TopicListener::Start(const std::string& dsn,
                                                            const std::string& schema) {
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    return Unavailable("cannot create the store's topic wake-up descriptor",
                       "raise the process's open-file limit");
  }
  std::unique_ptr<TopicListener> listener(
      new TopicListener(dsn, schema, TopicChannelName(schema), wake_fd));
  POPULI_RETURN_IF_ERROR(listener->Connect());
  listener->thread_ = std::thread([raw = listener.get()] { raw->Run(); });
  return listener;
}

TopicListener::TopicListener(std::string dsn, std::string_view schema, std::string channel,
                             int wake_fd)
    : dsn_(std::move(dsn)),
      app_name_(TopicListenerName(schema)),
      channel_(std::move(channel)),
      replica_(RandomHex(8)),
      wake_fd_(wake_fd) {}

TopicListener::~TopicListener() {
  Stop();
  if (conn_ != nullptr) PQfinish(conn_);
  close(wake_fd_);
}

void TopicListener::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void TopicListener::Publish(std::string_view topic) {
  std::lock_guard lock(mu_);
  queue_.Push(topic);
  if (signalled_ || stopping_) return;
  signalled_ = true;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void TopicListener::SetSink(TopicSink* sink) {
  std::lock_guard lock(sink_mu_);
  sink_ = sink;
}

bool TopicListener::ClearWake() {
  uint64_t count = 0;
  while (read(wake_fd_, &count, sizeof count) > 0) {
  }
  std::lock_guard lock(mu_);
  signalled_ = false;
  return stopping_;
}

bool TopicListener::Sleep(int timeout_ms) {
  const int64_t deadline = SteadyMs() + timeout_ms;
  for (;;) {
    if (ClearWake()) return false;
    const int64_t left = deadline - SteadyMs();
    if (left <= 0) return true;
    pollfd wake{wake_fd_, POLLIN, 0};
    (void)poll(&wake, 1, static_cast<int>(left));
  }
}

Status TopicListener::Connect() {
  // Keepalives first, so the DSN's own settings win; the application name last, so operators
  // (and tests) find the connection in pg_stat_activity.
  const char* keys[] = {
      "keepalives",       "keepalives_idle", "keepalives_interval", "keepalives_count",
      "tcp_user_timeout", "dbname",          "application_name",    nullptr};
  const char* values[] = {"1", "10", "5", "3", "30000", dsn_.c_str(), app_name_.c_str(), nullptr};
  PGconn* conn = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  const std::string where =
      "connect the store's LISTEN connection (" + RedactPostgresDsn(dsn_) + ")";
  const std::string hint = "check that the PostgreSQL server is up and reachable";
  if (conn == nullptr) return Unavailable(where + ": out of memory", hint);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  const int64_t deadline = SteadyMs() + kConnectTimeoutMs;
  while (PQstatus(conn) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
         state != PGRES_POLLING_FAILED) {
    const int64_t left = deadline - SteadyMs();
    pollfd fds[2] = {
        {PQsocket(conn), static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0},
        {wake_fd_, POLLIN, 0}};
    if (left <= 0 || poll(fds, 2, static_cast<int>(left)) == 0) {
      PQfinish(conn);
      return Unavailable(where + ": timed out", hint);
    }
    if ((fds[1].revents & POLLIN) != 0 && ClearWake()) {
      PQfinish(conn);
      return Unavailable("the store is closing", "");
    }
    if (fds[0].revents != 0) state = PQconnectPoll(conn);
  }
  if (state != PGRES_POLLING_OK || PQstatus(conn) != CONNECTION_OK) {
    std::string detail = PQerrorMessage(conn);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    PQfinish(conn);
    return Unavailable(where + ": " + detail, hint);
  }
  PQsetNoticeProcessor(conn, QuietNotices, nullptr);
  PGresult* listen = PQexec(conn, ("LISTEN " + QuoteIdent(channel_)).c_str());
  Status status = PQresultStatus(listen) == PGRES_COMMAND_OK
                      ? Status::Ok()
                      : PgStatus(conn, listen, "LISTEN on the store's topic channel");
  PQclear(listen);
  if (!status.ok()) {
    PQfinish(conn);
    return status;
  }
  conn_ = conn;
  backend_pid_ = PQbackendPID(conn);
  return Status::Ok();
}

void TopicListener::Run() {
  pthread_setname_np(pthread_self(), "store-topics");
  int backoff_ms = kMinBackoffMs;
  for (;;) {
    if (conn_ == nullptr) {
      if (!Sleep(backoff_ms)) return;
      backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
      if (!Connect().ok()) continue;
      backoff_ms = kMinBackoffMs;
      TopicMetrics::Get().reconnects.Inc();
      Missed();  // what was sent while nobody listened here is gone
    }
    const bool stopping = ClearWake();  // before taking the queue: a later Publish signals again
    const bool sent = SendQueued();
    if (stopping) return;  // what was published before Stop has gone out, if it could
    if (sent && Receive()) continue;
    PQfinish(conn_);
    conn_ = nullptr;
    Missed();  // nothing arrives until the reconnect: waiters re-read now rather than later
  }
}

bool TopicListener::Receive() {
  DeliverReceived();  // what arrived while a pg_notify ran
  pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  if (poll(fds, 2, -1) < 0 && errno != EINTR) return false;
  if (fds[0].revents != 0) {
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) return false;
    DeliverReceived();
  }
  return true;
}

bool TopicListener::SendQueued() {
  std::vector<std::string> topics;
  {
    std::lock_guard lock(mu_);
    topics = queue_.Take();
  }
  if (topics.empty()) return true;
  if (SendPayloads(EncodeTopicPayloads(replica_, topics))) {
    TopicMetrics::Get().sent.Inc(topics.size());
    return true;
  }
  std::lock_guard lock(mu_);
  queue_.Restore(topics);  // sent after the reconnect
  return false;
}

bool TopicListener::SendPayloads(const std::vector<std::string>& payloads) {
  for (size_t i = 0; i < payloads.size(); ++i) {
    const char* params[] = {channel_.c_str(), payloads[i].c_str()};
    PGresult* result =
        PQexecParams(conn_, "SELECT pg_notify($1, $2)", 2, nullptr, params, nullptr, nullptr, 0);
    const bool ok = PQresultStatus(result) == PGRES_TUPLES_OK;
    PQclear(result);
    if (ok) continue;
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    // The server refused this payload (text it cannot take): everyone wakes instead.
    const std::vector<std::string> every =
        EncodeTopicPayloads(replica_, {std::string(kEveryTopic)});
    const char* fallback[] = {channel_.c_str(), every[0].c_str()};
    result =
        PQexecParams(conn_, "SELECT pg_notify($1, $2)", 2, nullptr, fallback, nullptr, nullptr, 0);
    const bool sent = PQresultStatus(result) == PGRES_TUPLES_OK;
    PQclear(result);
    if (!sent) return false;
  }
  return true;
}

void TopicListener::DeliverReceived() {
  while (PGnotify* note = PQnotifies(conn_)) {
    if (note->be_pid != backend_pid_) Deliver(note->extra);
    PQfreemem(note);
  }
}

void TopicListener::Deliver(const char* payload) {
  std::optional<DecodedTopics> decoded = DecodeTopicPayload(payload);
  if (decoded && decoded->replica == replica_) return;
  std::lock_guard lock(sink_mu_);
  if (!decoded) {
    if (sink_ != nullptr) sink_->OnMissed();  // a format this version cannot read
    return;
  }
  TopicMetrics::Get().received.Inc(decoded->topics.size());
  if (sink_ == nullptr) return;
  for (const std::string& topic : decoded->topics) {
    if (topic == kEveryTopic) {
      sink_->OnMissed();
    } else {
      sink_->OnTopic(topic);
    }
  }
}

void TopicListener::Missed() {
  std::lock_guard lock(sink_mu_);
  if (sink_ != nullptr) sink_->OnMissed();
}

}  // namespace populi::store::postgres
