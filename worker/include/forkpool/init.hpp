// Process start-up.
#pragma once

namespace forkpool {

/// Call first in main(). In a worker started with start_method::spawn (a fresh run of this
/// program), it runs the worker and never returns; elsewhere it returns at once.
void init(int argc, char** argv);

}  // namespace forkpool
