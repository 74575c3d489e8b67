#include "forkpool/init.hpp"

namespace forkpool {

void init(int /*argc*/, char** /*argv*/) {
  // Nothing to do while every worker is forked. Kept in the API so that programs written today
  // work unchanged with start methods that exec the program again.
}

}  // namespace forkpool
