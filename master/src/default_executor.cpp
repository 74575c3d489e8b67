// The default executor of run_in_executor(fn, ...) and force_async(fn), and setting it.
#include "forkpool/event_loop.hpp"

namespace forkpool {

thread_pool& default_executor() {
  static thread_pool pool;  // created on first use; joined at exit
  return pool;
}

namespace detail {
any_executor& default_executor_handle() {
  // Made after (so destroyed before) the pool it first holds.
  static any_executor handle(default_executor());
  return handle;
}
}  // namespace detail

void set_default_executor(thread_pool& pool) {
  detail::default_executor_handle().set_executor(pool);
}
void set_default_executor(process_pool& pool) {
  detail::default_executor_handle().set_executor(pool);
}

}  // namespace forkpool
