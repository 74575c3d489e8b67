// One future for many: done when every part is, with their results in order or the first
// part's error (in part order). For batches whose calls travel one by one (client::map).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "forkpool/future.hpp"

namespace forkpool::detail {

template <class R>
future<std::vector<R>> all_of(std::vector<future<R>> parts,
                              const std::shared_ptr<pool_link>& link) {
  struct gathering {
    std::vector<future<R>> parts;
    std::atomic<std::size_t> left;
  };
  auto whole = std::make_shared<future_state<std::vector<R>>>(link);
  auto gather = std::make_shared<gathering>();
  gather->parts = std::move(parts);
  gather->left.store(gather->parts.size(), std::memory_order_relaxed);
  // Each part's callback holds the gathering until it has run: the last one to run finishes the
  // whole and lets go of the parts.
  for (auto& part : gather->parts) {
    part.add_done_callback([gather, whole] {
      if (gather->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      std::vector<R> values;
      values.reserve(gather->parts.size());
      for (auto& p : gather->parts) {
        if (std::exception_ptr error = p.exception()) {
          whole->fail(error);
          gather->parts.clear();
          return;
        }
        values.push_back(std::move(p).get());
      }
      gather->parts.clear();
      whole->succeed_with(std::move(values));
    });
  }
  return future<std::vector<R>>(std::move(whole));
}

}  // namespace forkpool::detail
