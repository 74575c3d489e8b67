#include "forkpool/process_pool.hpp"

#include "pool_core.hpp"

namespace forkpool {

process_pool::process_pool(pool_options options)
    : core_(std::make_unique<detail::pool_core>(std::move(options))) {}

process_pool::~process_pool() = default;

void process_pool::shutdown(shutdown_options options) { core_->shutdown(options); }

void process_pool::restart_workers() { core_->restart_workers(); }

pool_stats process_pool::stats() const { return core_->stats(); }

const pool_options& process_pool::options() const noexcept { return core_->options(); }

future<detail::encoded_result> process_pool::submit_encoded(std::string name,
                                                           std::uint64_t argument_signature,
                                                           std::uint64_t result_signature,
                                                           detail::byte_buffer arguments) {
  auto state = detail::new_call<detail::encoded_result>(link(), std::move(name),
                                                        detail::frame_kind::call,
                                                        argument_signature, result_signature);
  state->arguments = std::move(arguments);
  enqueue(state);
  return future<detail::encoded_result>(std::move(state));
}

void process_pool::enqueue(std::shared_ptr<detail::task_state> task) {
  core_->enqueue(std::move(task));
}

const std::shared_ptr<detail::pool_link>& process_pool::link() const noexcept {
  return core_->link();
}

}  // namespace forkpool
