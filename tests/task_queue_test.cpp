// The process pool's line of calls waiting for a worker: order kept across growth and
// requeues, and memory given back once a burst has passed.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "task_queue.hpp"

using forkpool::detail::future_state;
using forkpool::detail::task_queue;

namespace {

task_queue::task_ptr call_numbered(std::uint64_t id) {
  auto call = std::make_shared<future_state<int>>(nullptr);
  call->id = id;
  return call;
}

std::vector<std::uint64_t> take_all(task_queue& queue) {
  std::vector<std::uint64_t> ids;
  while (!queue.empty()) ids.push_back(queue.take_front()->id);
  return ids;
}

}  // namespace

TEST_CASE("task_queue: first in first out while it grows and wraps" * doctest::timeout(30)) {
  task_queue queue;
  std::uint64_t next = 1, expected = 1;
  // Pushes outrun takes two to one, so the ring wraps and then doubles with calls in it.
  for (int round = 0; round < 3000; ++round) {
    queue.push_back(call_numbered(next++));
    queue.push_back(call_numbered(next++));
    REQUIRE(queue.take_front()->id == expected++);
  }
  CHECK(queue.size() == 3000);
  for (std::uint64_t id : take_all(queue)) REQUIRE(id == expected++);
  CHECK(expected == next);
}

TEST_CASE("task_queue: calls put back go first and in their order" * doctest::timeout(30)) {
  task_queue queue;
  for (std::uint64_t id = 10; id < 13; ++id) queue.push_back(call_numbered(id));
  queue.push_front(call_numbered(9));
  queue.push_front(std::vector{call_numbered(5), call_numbered(6), call_numbered(7)});
  CHECK(take_all(queue) == std::vector<std::uint64_t>{5, 6, 7, 9, 10, 11, 12});
}

TEST_CASE("task_queue: a burst's memory is given back once the line empties" *
          doctest::timeout(30)) {
  task_queue queue;
  for (std::uint64_t id = 0; id < 100000; ++id) queue.push_back(call_numbered(id));
  const std::size_t burst_capacity = queue.capacity();
  CHECK(burst_capacity >= 100000);
  std::weak_ptr<forkpool::detail::task_state> last = queue.front();
  for (std::uint64_t id = 0; id < 100000; ++id) REQUIRE(queue.take_front()->id == id);
  CHECK(last.expired());  // a taken call is not kept alive by its old slot
  CHECK(queue.capacity() < burst_capacity / 16);
  queue.push_back(call_numbered(1));
  queue.clear();
  CHECK(queue.empty());
}
