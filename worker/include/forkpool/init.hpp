// Process start-up.
#pragma once

namespace forkpool {

/// Call first in main(). With the fork and forkserver start methods it has nothing to do yet; the
/// spawn start method (which execs the program again) will recognise a worker's argv here and
/// never return in that process, so programs that call it now keep working then.
void init(int argc, char** argv);

}  // namespace forkpool
