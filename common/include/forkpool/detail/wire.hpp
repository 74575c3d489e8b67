// The errors that travel between processes: in a worker's error reply (worker_messages.hpp, in
// the engine) and in forkpool-master's replies to its clients (client_protocol.hpp).
#pragma once

#include <cereal/types/common.hpp>
#include <cereal/types/string.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace forkpool::detail {

/// Which public error an error reply becomes.
enum class error_code : std::uint8_t {
  remote = 1,  ///< the task threw
  unknown_task = 2,
  bad_arguments = 3,
  protocol = 4,     ///< the call frame did not make sense
  initializer = 5,  ///< the worker's initializer threw
  // Only between forkpool-master and its clients:
  worker_died = 6,  ///< type_name holds "pid signal exit_code"
  task_timeout = 7,
  cancelled = 8,
  other = 9,  ///< any other forkpool::error
  broken_pool = 10,
  shared_memory_exhausted = 11,  ///< a task's shared_bytes found no room
};

/// The ends of a worker's bad_arguments messages when a call by name does not match the task's
/// types; the caller, which knows what it sent, adds that.
inline constexpr std::string_view kArgumentTypesDiffer = "the call's argument types differ";
inline constexpr std::string_view kResultTypeDiffers = "the caller asked for another result type";

struct wire_error {
  error_code code = error_code::remote;
  std::string type_name;
  std::string message;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(code, type_name, message);
  }
};

}  // namespace forkpool::detail
