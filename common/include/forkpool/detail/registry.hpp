// The task registry: every FORKPOOL_TASK registration, looked up by name (in workers) and by
// function address (in the master, for submit(fn, ...)). Filled during static initialisation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "forkpool/detail/serialize.hpp"

namespace forkpool::detail {

/// A function pointer with its type erased; cast back to its real type before calling.
using erased_function = void (*)();

/// Decodes arguments, calls the task, encodes the result into `result`. Throws what the task
/// throws, or decode_failure.
using invoke_function = void (*)(erased_function function, std::span<const std::byte> arguments,
                                 std::streambuf& result);

struct task_entry {
  std::string name;
  erased_function function = nullptr;
  std::uint64_t argument_signature = 0;
  std::uint64_t result_signature = 0;
  std::string argument_types;  ///< "(int, std::string)", for error messages
  std::string result_type;
  invoke_function invoke = nullptr;        ///< one call
  invoke_function invoke_chunk = nullptr;  ///< a map chunk: many calls, results as one vector
};

/// Adds a task. Registering one function twice under one name is harmless; two different
/// functions under one name is a programming error, reported on stderr, and the program stops.
void register_task(task_entry entry);

const task_entry* find_task(std::string_view name) noexcept;
/// How many tasks are registered (forkpool-master checks that a plugin added some).
std::size_t registered_task_count() noexcept;
const task_entry* find_task(erased_function function) noexcept;

}  // namespace forkpool::detail
