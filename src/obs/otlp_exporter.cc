#include "obs/otlp_exporter.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "obs/span_json.h"

namespace populi::obs {

struct OtlpExporter::State {
  State(OtlpExporterOptions o, PostFn p) : options(std::move(o)), post(std::move(p)) {}
  const OtlpExporterOptions options;
  const PostFn post;
  std::mutex mu;
  std::condition_variable wake;
  std::condition_variable finished_cv;
  std::deque<Span> queue;
  bool stopping = false;
  bool finished = false;
  Stats stats;
};

namespace {

void Run(const std::shared_ptr<OtlpExporter::State>& state) {
  auto& s = *state;
  const auto interval = std::chrono::milliseconds(s.options.flush_interval_ms);
  std::unique_lock lock(s.mu);
  const auto finish = [&] {
    s.finished = true;
    s.finished_cv.notify_all();
  };
  for (;;) {
    s.wake.wait_for(lock, interval,
                    [&] { return s.stopping || s.queue.size() >= s.options.max_batch; });
    if (s.queue.empty()) {
      if (s.stopping) return finish();
      continue;
    }
    // Batches go out until the queue is drained; the lock is not held while posting.
    while (!s.queue.empty()) {
      std::vector<Span> batch;
      const size_t n = std::min(s.queue.size(), s.options.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(s.queue.front()));
        s.queue.pop_front();
      }
      lock.unlock();
      const Status sent = s.post(OtlpTracesJson(batch, s.options.version));
      lock.lock();
      if (sent.ok()) {
        s.stats.exported += batch.size();
      } else {
        ++s.stats.failed_batches;
        s.stats.failed_spans += batch.size();
      }
      if (s.stopping) {
        // One batch at shutdown, then stop: shutdown must not wait on a dead collector.
        s.stats.dropped += s.queue.size();
        s.queue.clear();
        return finish();
      }
    }
  }
}

}  // namespace

OtlpExporter::OtlpExporter(OtlpExporterOptions options, PostFn post)
    : state_(std::make_shared<State>(std::move(options), std::move(post))),
      thread_([state = state_] { Run(state); }) {}

OtlpExporter::~OtlpExporter() {
  bool finished = false;
  {
    std::unique_lock lock(state_->mu);
    state_->stopping = true;
    state_->wake.notify_all();
    finished = state_->finished_cv.wait_for(
        lock, std::chrono::milliseconds(state_->options.shutdown_grace_ms),
        [&] { return state_->finished; });
  }
  // A thread stuck in a POST keeps its own reference to the state and ends when the POST does.
  if (finished) {
    thread_.join();
  } else {
    thread_.detach();
  }
}

void OtlpExporter::Record(Span span) {
  bool full_batch = false;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping || state_->queue.size() >= state_->options.max_queue) {
      ++state_->stats.dropped;
      return;
    }
    state_->queue.push_back(std::move(span));
    full_batch = state_->queue.size() >= state_->options.max_batch;
  }
  if (full_batch) state_->wake.notify_one();
}

OtlpExporter::Stats OtlpExporter::stats() const {
  std::lock_guard lock(state_->mu);
  Stats s = state_->stats;
  s.queued = state_->queue.size();
  return s;
}

}  // namespace populi::obs
