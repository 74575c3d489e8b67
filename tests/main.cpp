// The test runner. forkpool::init comes first, as in any forkpool program.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <forkpool/forkpool.hpp>

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
