#include "forkpool/init.hpp"

#include "spawn.hpp"

namespace forkpool {

void init(int argc, char** argv) { detail::run_spawned_worker_if_requested(argc, argv); }

}  // namespace forkpool
