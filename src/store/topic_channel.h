// Wake-up topics shared by every store instance on one database (control-plane replicas).
//
// A replica names what changed with a topic ("inbox:<receiver>", "task:<id>", "events", …) right
// after the change committed; the channel carries it to every other replica on the same store,
// whose sink wakes its own waiters. A waiter re-reads the store when woken, so a spurious wake
// costs one read; the channel's promise is that a topic is never silently lost: when it may have
// missed some (its connection to the database dropped), the sink hears OnMissed and wakes every
// waiter once. A backend that runs in one process (SQLite) has no channel (MeshStore::topics()
// is null).
#pragma once

#include <string_view>

namespace populi::store {

// Where another replica's topics arrive. Called on the channel's own thread, one call at a time;
// an implementation must not block and must not call back into the channel.
class TopicSink {
 public:
  virtual ~TopicSink() = default;
  // Another replica published `topic` after the change it names committed.
  virtual void OnTopic(std::string_view topic) = 0;
  // Topics may have been missed (the channel lost its connection, or a replica's backlog
  // overflowed): act as if every topic was published. Also called when the channel lost its
  // connection, before it is back.
  virtual void OnMissed() = 0;
};

class TopicChannel {
 public:
  virtual ~TopicChannel() = default;
  // Queues `topic` for the other replicas and returns at once; the channel's thread sends it,
  // coalescing repeats, in the order of each topic's latest Publish. Call only after the change
  // the topic announces committed: a replica woken earlier would re-read, find nothing new and
  // wait again. Topics queued while the connection is down are sent once it is back.
  virtual void Publish(std::string_view topic) = 0;
  // Where other replicas' topics go from now on (null: nowhere). Returns only once no call into
  // the previous sink is running, so the previous sink may be destroyed then. Never call it from
  // a sink.
  virtual void SetSink(TopicSink* sink) = 0;
};

}  // namespace populi::store
