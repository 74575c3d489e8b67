// Registering tasks: functions a worker process can run by name.
//
//   int square(int x) { return x * x; }
//   FORKPOOL_TASK(square);                       // registered as "square"
//   FORKPOOL_TASK_NAMED(greet, "demo.greet");    // registered under an explicit name
//
// Arguments and results may be any type cereal serializes: every std:: type it supports (all its
// <cereal/types/...> headers are included here), and user types with a serialize member.
// Parameters are taken by value or by const reference. `void` results are allowed.
#pragma once

#include "forkpool/detail/task_traits.hpp"

#define FORKPOOL_DETAIL_CONCAT_INNER(a, b) a##b
#define FORKPOOL_DETAIL_CONCAT(a, b) FORKPOOL_DETAIL_CONCAT_INNER(a, b)

/// Registers `fn` (a function or captureless lambda) under the name `name`. At namespace scope
/// only, so that every run of the program registers it before main(): the empty namespace
/// makes it a compile error anywhere else (in a function it would register only once that
/// function ran, which a spawned worker never does).
#define FORKPOOL_TASK_NAMED(fn, name)                                                      \
  namespace forkpool_task_must_be_at_namespace_scope {}                                    \
  [[maybe_unused]] static const ::forkpool::detail::task_registrar FORKPOOL_DETAIL_CONCAT( \
      forkpool_task_registrar_, __COUNTER__) {                                             \
    fn, name, [](auto&&... arguments) -> decltype(auto) {                                  \
      return fn(static_cast<decltype(arguments)&&>(arguments)...);                         \
    }                                                                                      \
  }

/// Registers `fn` under its own name.
#define FORKPOOL_TASK(fn) FORKPOOL_TASK_NAMED(fn, #fn)
