#include "mpi_messages.hpp"

#include <stdexcept>

#include "forkpool/detail/registry.hpp"
#include "forkpool/errors.hpp"

namespace forkpool::detail::mpi_wire {

agent_config config_for(const mpi_pool_options& options) {
  agent_config config;
  config.workers = options.workers_per_host;
  config.max_tasks_per_worker = options.pool.max_tasks_per_worker;
  config.max_worker_rss_bytes = options.pool.max_worker_rss_bytes;
  config.task_timeout_ms = options.pool.task_timeout.count();
  config.max_retries = options.pool.max_retries;
  config.start = static_cast<std::uint8_t>(options.pool.start);
  config.ring_bytes = options.pool.ring_bytes;
  config.max_payload_bytes = options.pool.max_payload_bytes;
  config.heartbeat_ms = options.heartbeat.count();
  config.host_timeout_ms = options.host_timeout.count();
  // By name: a closure cannot reach another host.
  const std::optional<std::string> initializer = registered_initializer(options.pool.initializer);
  if (!initializer)
    throw std::invalid_argument(
        "forkpool::mpi_pool: pool.initializer must be a function registered with FORKPOOL_TASK "
        "(a closure cannot reach another host)");
  config.initializer = *initializer;
  return config;
}

batch_view split_batch(std::span<const std::byte> batch) {
  batch_view view;
  while (!batch.empty()) {
    if (batch.size() < kLengthPrefix) {
      view.torn = batch;
      break;
    }
    const std::size_t length = read_length(batch.first<kLengthPrefix>());
    if (length > batch.size() - kLengthPrefix) {
      view.torn = batch.subspan(kLengthPrefix);
      break;
    }
    view.messages.push_back(batch.subspan(kLengthPrefix, length));
    batch = batch.subspan(kLengthPrefix + length);
  }
  return view;
}

std::optional<result_in_place> read_result_reply(std::span<const std::byte> reply) noexcept {
  constexpr std::size_t head = kResultReplyHead - kLengthPrefix;  // kind, id, result size
  if (reply.size() < head || reply[0] != static_cast<std::byte>(master_reply::kind_t::result))
    return std::nullopt;
  result_in_place found;
  std::uint64_t size = 0;
  std::memcpy(&found.id, reply.data() + 1, sizeof found.id);  // cereal's binary: native order
  std::memcpy(&size, reply.data() + 1 + sizeof found.id, sizeof size);
  if (size > reply.size() - head) return std::nullopt;
  found.result = reply.subspan(head, size);
  return found;
}

pool_options pool_options_of(const agent_config& config) {
  pool_options options;
  options.workers = config.workers;
  options.max_tasks_per_worker = config.max_tasks_per_worker;
  options.max_worker_rss_bytes = config.max_worker_rss_bytes;
  options.task_timeout = std::chrono::milliseconds(config.task_timeout_ms);
  options.max_retries = config.max_retries;
  options.start = static_cast<start_method>(config.start);
  if (config.ring_bytes != 0) options.ring_bytes = config.ring_bytes;
  if (config.max_payload_bytes != 0) options.max_payload_bytes = config.max_payload_bytes;
  if (!config.initializer.empty()) {
    const task_entry* task = find_task(config.initializer);
    if (task == nullptr)
      throw unknown_task("the initializer '" + config.initializer +
                         "' is not a task registered here");
    options.initializer = reinterpret_cast<void (*)()>(task->function);
  }
  return options;
}

}  // namespace forkpool::detail::mpi_wire
