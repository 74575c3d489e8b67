// A program that uses a pool before main(), from a global's constructor, as
// FORKPOOL_BEFORE_MAIN says ("submit": a task whose registration comes later in static
// initialisation; "spawn": a pool with start_method::spawn). It prints the error it got.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <forkpool/forkpool.hpp>

namespace {

int registered_late(int x) { return x; }

struct uses_a_pool_before_main {
  std::string error;
  uses_a_pool_before_main() {
    const char* mode = std::getenv("FORKPOOL_BEFORE_MAIN");
    if (mode == nullptr) return;
    try {
      forkpool::pool_options options;
      options.workers = 1;
      if (std::strcmp(mode, "spawn") == 0) options.start = forkpool::start_method::spawn;
      forkpool::process_pool pool(options);
      pool.submit(registered_late, 1).get();
      error = "no error";
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
};

// Constructed before the registration below: in one file, definition order is initialisation order.
uses_a_pool_before_main early;

}  // namespace

FORKPOOL_TASK(registered_late);

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  std::printf("%s\n", early.error.c_str());
  return 0;
}
