// A move-only std::function<void()>: done callbacks may own move-only things (Asio handlers).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace forkpool::detail {

class unique_function {
 public:
  unique_function() = default;
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, unique_function>)
  unique_function(F f) : callable_(std::make_unique<model<F>>(std::move(f))) {}

  void operator()() { callable_->call(); }
  explicit operator bool() const noexcept { return callable_ != nullptr; }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual void call() = 0;
  };
  template <class F>
  struct model final : concept_t {
    explicit model(F f) : f(std::move(f)) {}
    void call() override { f(); }
    F f;
  };
  std::unique_ptr<concept_t> callable_;
};

}  // namespace forkpool::detail
