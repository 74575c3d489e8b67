// forkpool: a process-pool executor for C++20. The one header to include.
//
//   int square(int x) { return x * x; }
//   FORKPOOL_TASK(square);
//
//   int main(int argc, char** argv) {
//     forkpool::init(argc, argv);
//     forkpool::process_pool pool({.workers = 4});
//     forkpool::future<int> f = pool.submit(square, 7);
//     return f.get() == 49 ? 0 : 1;
//   }
#pragma once

#include <utility>  // before any Boost.Asio header: Boost 1.74 + g++ 12 needs it (see README)

#include "forkpool/any_executor.hpp"
#include "forkpool/client.hpp"
#include "forkpool/errors.hpp"
#include "forkpool/event_loop.hpp"
#include "forkpool/executor.hpp"
#include "forkpool/future.hpp"
#include "forkpool/imap_range.hpp"
#include "forkpool/init.hpp"
#include "forkpool/log.hpp"
#include "forkpool/options.hpp"
#include "forkpool/process_pool.hpp"
#include "forkpool/shared_bytes.hpp"
#include "forkpool/task.hpp"
#include "forkpool/thread_pool.hpp"
#include "forkpool/version.hpp"
#include "forkpool/wait.hpp"
