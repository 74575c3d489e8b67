// The thread_pool's intrusive queue: pushed from several threads at once, taken by one.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "call_queue.hpp"

using forkpool::detail::call_queue;
using forkpool::detail::queue_link;

namespace {

struct numbered : queue_link {
  int producer = 0;
  int sequence = 0;
};

}  // namespace

TEST_CASE("call_queue: empty and then first in first out" * doctest::timeout(30)) {
  call_queue queue;
  CHECK(queue.take() == nullptr);
  numbered a, b, c;
  queue.push(a);
  queue.push(b);
  CHECK(queue.take() == &a);
  queue.push(c);
  CHECK(queue.take() == &b);
  CHECK(queue.take() == &c);
  CHECK(queue.take() == nullptr);
  queue.push(a);  // a node taken can be queued again
  CHECK(queue.take() == &a);
  CHECK(queue.take() == nullptr);
}

TEST_CASE("call_queue: pushes from several threads are each taken once in their order" *
          doctest::timeout(60)) {
  constexpr int kProducers = 3;
  constexpr int kEach = 20000;
  std::vector<std::vector<numbered>> nodes(kProducers);
  for (auto& list : nodes) list = std::vector<numbered>(kEach);
  call_queue queue;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        nodes[p][i].producer = p;
        nodes[p][i].sequence = i;
        queue.push(nodes[p][i]);
      }
    });
  std::vector<int> next(kProducers, 0);
  bool in_order = true;
  int taken = 0;
  while (taken < kProducers * kEach) {
    queue_link* link = queue.take();
    if (link == nullptr) {  // empty for now, or a push half done
      std::this_thread::yield();
      continue;
    }
    auto& node = static_cast<numbered&>(*link);
    in_order = in_order && node.sequence == next[node.producer];
    next[node.producer] = node.sequence + 1;
    ++taken;
  }
  for (auto& t : producers) t.join();
  CHECK(in_order);
  CHECK(queue.take() == nullptr);
  for (int p = 0; p < kProducers; ++p) CHECK(next[p] == kEach);
}
