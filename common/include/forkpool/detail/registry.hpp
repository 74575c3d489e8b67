// The task registry: every FORKPOOL_TASK registration, looked up by name (in workers) and by
// function address (in the master, for submit(fn, ...)). Filled during static initialisation.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
/// The registered name of an initializer: what a fresh run of the program, or another host, calls
/// as the initializer ("" for none). Unset for a closure or an unregistered function, which can
/// reach neither.
std::optional<std::string> registered_initializer(const std::function<void()>& initializer);
/// Every registered name, sorted.
std::vector<std::string> registered_task_names();

/// The registered names nearest to `name` (a typo, a missing namespace prefix), closest first,
/// at most `most`; empty when none is near.
std::vector<std::string> nearest_task_names(std::string_view name, std::size_t most = 3);

/// Called by forkpool::init in a program's main(): static initialisation, and with it the
/// registration of every task the program links, is over.
void note_init_ran() noexcept;
/// Whether forkpool::init has run in this process.
bool init_has_run() noexcept;
/// How many tasks were registered when forkpool::init ran (0 before it has).
std::size_t tasks_registered_at_init() noexcept;

/// "no task is registered as 'sqare'; did you mean 'square'?" and the like.
std::string unknown_task_message(std::string_view name);

/// How a function that is not registered reads in an error: its demangled name when the
/// dynamic symbol table has it (shared libraries, or programs linked with -rdynamic), else
/// `type` ("a function of type int (*)(int)").
std::string describe_function(erased_function function, std::string_view type);

/// Why submit(fn) found no task for `fn`, and what to do: register it, or, before
/// forkpool::init has run (a global's constructor), submit from main() instead.
std::string unregistered_function_message(erased_function function, std::string_view type);

}  // namespace forkpool::detail
