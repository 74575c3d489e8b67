// The thread_pool's queue of calls: intrusive (a call is its own node, so queueing allocates
// nothing) and wait-free to push (one atomic exchange), so a submitting thread never waits for
// the pool's threads. Taking is for one thread at a time; the pool serializes its threads with a
// lock of their own, which the submitter never touches.
//
// Dmitry Vyukov's intrusive multi-producer single-consumer queue, with a stub node: a push swaps
// itself in as the tail and then links the old tail to itself. Between the two steps the queue
// cannot be read past the old tail, so take() may return null although a push has begun; a push
// that has returned is always seen.
#pragma once

#include <atomic>

#include "forkpool/detail/thread_call.hpp"

namespace forkpool::detail {

class call_queue {
 public:
  call_queue() noexcept = default;
  call_queue(const call_queue&) = delete;
  call_queue& operator=(const call_queue&) = delete;

  /// Any thread, any number at once.
  void push(queue_link& node) noexcept {
    node.next.store(nullptr, std::memory_order_relaxed);
    queue_link* previous = tail_.exchange(&node, std::memory_order_acq_rel);
    previous->next.store(&node, std::memory_order_release);
  }

  /// The oldest node, or null when none is readable. One thread at a time.
  queue_link* take() noexcept {
    queue_link* head = head_;
    queue_link* next = head->next.load(std::memory_order_acquire);
    if (head == &stub_) {
      if (next == nullptr) return nullptr;
      head_ = next;
      head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      head_ = next;
      return head;
    }
    // `head` is the last node readable: it can be taken only once the stub is behind it.
    if (head != tail_.load(std::memory_order_acquire)) return nullptr;  // a push is half done
    push(stub_);
    next = head->next.load(std::memory_order_acquire);
    if (next == nullptr) return nullptr;  // another push came between: it finishes soon
    head_ = next;
    return head;
  }

 private:
  queue_link stub_;
  alignas(64) std::atomic<queue_link*> tail_{&stub_};  ///< written by pushes
  alignas(64) queue_link* head_ = &stub_;              ///< the taking thread's
};

}  // namespace forkpool::detail
