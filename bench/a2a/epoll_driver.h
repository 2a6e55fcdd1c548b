// The epoll driver of a2a_load: all client connections on `threads` threads (one epoll loop
// each) instead of one blocking thread per client, so the load generator costs the server's
// cores as little as wrk does. Each connection runs the same loop as a thread client: deliver
// `batch` messages (cycle_requests.h), claim with max_messages = batch, acknowledge what the
// claim took in one request (nothing to acknowledge: the next cycle starts).
#pragma once

#include <fcntl.h>
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../http_conn.h"
#include "cycle_requests.h"

namespace populi::bench {

struct DriverTotals {
  std::atomic<int64_t> cycles{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> empty_claims{0};  // claims that got nothing (a shared queue ran dry)
  std::mutex mu;
  std::vector<double> deliver_us;
};

class EpollClient {
 public:
  EpollClient(const Endpoint& to, const std::string& headers, std::string node, CyclePlan plan)
      : conn_(to, headers),
        node_(std::move(node)),
        plan_(std::move(plan)),
        deliveries_(plan_.deliver_requests()) {}
  bool ok() const { return conn_.ok(); }
  int fd() const { return conn_.fd(); }
  Conn& conn() { return conn_; }

  // Queues the next request of the loop into out_.
  void QueueNext() {
    if (step_ < deliveries_) {
      out_ = Conn::PostRequest(plan_.deliver_path(), plan_.deliver_body(node_, &seq_),
                               conn_.headers());
      sent_at_ = std::chrono::steady_clock::now();
    } else if (step_ == deliveries_) {
      out_ = Conn::PostRequest(kClaimPath,
                               ClaimBody(plan_.receiver(node_), node_, plan_.batch,
                                         plan_.ack_next ? ids_ : std::vector<int64_t>{}, token_),
                               conn_.headers());
    } else {
      out_ = Conn::PostRequest(kAckPath, AckBody(plan_.receiver(node_), ids_, token_),
                               conn_.headers());
    }
    out_off_ = 0;
  }

  // Writes what it can of out_; false on a broken connection.
  bool Flush() {
    while (out_off_ < out_.size()) {
      ssize_t n = ::send(fd(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      out_off_ += static_cast<size_t>(n);
    }
    return true;
  }
  bool pending_write() const { return out_off_ < out_.size(); }

  // Reads what arrived and handles every complete response; false on a broken connection.
  bool OnReadable(DriverTotals& totals, std::vector<double>& deliver_us, bool stopping) {
    char chunk[16 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd(), chunk, sizeof chunk, 0);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      in_.append(chunk, static_cast<size_t>(n));
    }
    int status = 0;
    std::string body;
    while (Conn::TakeResponse(&in_, &status, &body)) {
      if (status != 200) ++totals.errors;
      if (step_ < deliveries_) {
        deliver_us.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - sent_at_)
                .count());
        ++step_;
      } else if (step_ == deliveries_) {
        if (plan_.ack_next && status == 200) totals.cycles += AckedCountIn(body);
        ids_ = MessageIdsIn(body);
        token_ = ClaimTokenIn(body);
        if (ids_.empty()) ++totals.empty_claims;
        step_ = ids_.empty() || plan_.ack_next ? 0 : step_ + 1;
      } else {
        if (status == 200) totals.cycles += static_cast<int64_t>(ids_.size());
        step_ = 0;
      }
      if (stopping) return true;
      QueueNext();
      if (!Flush()) return false;
    }
    return true;
  }

 private:
  Conn conn_;
  std::string node_;
  CyclePlan plan_;
  int deliveries_;   // deliver requests per cycle
  int step_ = 0;     // < deliveries_: delivering; == deliveries_: claiming; then acknowledging
  int64_t seq_ = 0;  // messages delivered (numbers their idempotency keys)
  std::vector<int64_t> ids_;
  std::string token_;  // the claim_token of ids_
  std::string out_;
  size_t out_off_ = 0;
  std::string in_;
  std::chrono::steady_clock::time_point sent_at_;
};

// Runs `clients` (already joined) on one epoll loop until `stop`.
inline void RunEpollLoop(std::vector<EpollClient*> clients, const std::atomic<bool>& stop,
                         DriverTotals& totals) {
  const int ep = ::epoll_create1(0);
  for (EpollClient* c : clients) {
    ::fcntl(c->fd(), F_SETFL, ::fcntl(c->fd(), F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c->fd(), &ev);
    c->QueueNext();
    if (!c->Flush()) ++totals.errors;
  }
  std::vector<double> local;
  std::vector<epoll_event> events(clients.size() + 1);
  while (!stop.load(std::memory_order_relaxed)) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<EpollClient*>(events[i].data.ptr);
      if (!c->OnReadable(totals, local, stop.load(std::memory_order_relaxed))) {
        ++totals.errors;
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd(), nullptr);
        continue;
      }
      if ((events[i].events & EPOLLOUT) != 0 && !c->Flush()) ++totals.errors;
      // Loopback sends of a few hundred bytes complete at once; watch for writability only
      // in the rare case one did not.
      epoll_event ev{};
      ev.events = EPOLLIN | (c->pending_write() ? EPOLLOUT : 0u);
      ev.data.ptr = c;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, c->fd(), &ev);
    }
  }
  ::close(ep);
  std::lock_guard lock(totals.mu);
  totals.deliver_us.insert(totals.deliver_us.end(), local.begin(), local.end());
}

}  // namespace populi::bench
