// Registering tasks: functions a worker process can run by name.
//
//   int square(int x) { return x * x; }
//   FORKPOOL_TASK(square);                       // registered as "square"
//   FORKPOOL_TASK_NAMED(greet, "demo.greet");    // registered under an explicit name
//
// Arguments and results may be any cereal-serializable type (include the cereal header for the
// std:: types you use, e.g. <cereal/types/map.hpp>; string, vector and tuple are included here).
// Parameters are taken by value or by const reference. `void` results are allowed.
#pragma once

#include "forkpool/detail/task_traits.hpp"

#define FORKPOOL_DETAIL_CONCAT_INNER(a, b) a##b
#define FORKPOOL_DETAIL_CONCAT(a, b) FORKPOOL_DETAIL_CONCAT_INNER(a, b)

/// Registers `fn` (a function or captureless lambda, at namespace scope) under the name `name`.
#define FORKPOOL_TASK_NAMED(fn, name)                                                   \
  [[maybe_unused]] static const ::forkpool::detail::task_registrar FORKPOOL_DETAIL_CONCAT( \
      forkpool_task_registrar_, __COUNTER__) { fn, name }

/// Registers `fn` under its own name.
#define FORKPOOL_TASK(fn) FORKPOOL_TASK_NAMED(fn, #fn)
