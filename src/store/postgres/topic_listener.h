// The PostgreSQL backend's TopicChannel (store/topic_channel.h): one dedicated connection per
// store that LISTENs on the schema's channel and sends this store's topics with pg_notify.
//
// One thread owns the connection. It waits on the connection's socket and on an eventfd (a
// Publish, or Stop) with poll(2); sends what was published since its last round, coalesced into
// payloads under PostgreSQL's 8000-byte limit (topic_wire.h); and hands the topics of other
// stores' payloads to the sink, skipping its own (by backend pid and by replica id). When the
// connection drops it tells the sink (OnMissed), reconnects with backoff (100 ms doubling to 5 s;
// the connect itself is non-blocking, so Stop never waits for it) and, listening again, tells the
// sink once more: a notification sent while nobody listened is gone. Topics published meanwhile
// are kept and sent after the reconnect. TCP keepalives (unless the DSN sets its own) let a
// silently dead connection be noticed within about half a minute.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/topic_wire.h"
#include "store/topic_channel.h"
#include "util/status.h"

namespace populi::store::postgres {

class TopicListener final : public TopicChannel {
 public:
  // Connects and LISTENs on the channel of `schema` before returning, so nothing published after
  // Start is missed; kUnavailable when that first connection fails.
  static Result<std::unique_ptr<TopicListener>> Start(const std::string& dsn,
                                                      const std::string& schema);
  ~TopicListener() override;
  TopicListener(const TopicListener&) = delete;
  TopicListener& operator=(const TopicListener&) = delete;

  void Publish(std::string_view topic) override;
  void SetSink(TopicSink* sink) override;
  // Ends the thread and closes the connection; the sink hears nothing afterwards. Idempotent.
  void Stop();

 private:
  TopicListener(std::string dsn, std::string_view schema, std::string channel, int wake_fd);

  void Run();
  // A new connection listening on the channel, or an error (also when Stop was asked).
  Status Connect();
  // Hands what arrived to the sink and waits for the socket or a wake-up; false when the
  // connection broke.
  bool Receive();
  bool SendQueued();
  bool SendPayloads(const std::vector<std::string>& payloads);
  void DeliverReceived();
  void Deliver(const char* payload);
  void Missed();
  // Waits for a wake-up until `timeout_ms` passes (Publish wake-ups only reset the eventfd);
  // false once Stop was asked.
  bool Sleep(int timeout_ms);
  // Clears the eventfd and lets the next Publish signal again; true once Stop was asked.
  bool ClearWake();

  const std::string dsn_;
  const std::string app_name_;  // application_name of the connection
  const std::string channel_;
  const std::string replica_;  // random per store instance, in every payload it sends
  const int wake_fd_;
  PGconn* conn_ = nullptr;  // the thread's (Start's before the thread runs)
  int backend_pid_ = 0;

  std::mutex mu_;
  TopicQueue queue_;
  bool signalled_ = false;  // the eventfd was written since the thread last cleared it
  bool stopping_ = false;

  std::mutex sink_mu_;  // held while the sink is called
  TopicSink* sink_ = nullptr;

  std::thread thread_;
};

}  // namespace populi::store::postgres
