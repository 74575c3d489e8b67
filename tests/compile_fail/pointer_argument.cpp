// A pointer parameter: its address means nothing in a worker.
// expect: a pointer cannot be sent to another process
#include <forkpool/forkpool.hpp>

#include <cstring>

long length(const char* text) { return static_cast<long>(std::strlen(text)); }
FORKPOOL_TASK(length);
