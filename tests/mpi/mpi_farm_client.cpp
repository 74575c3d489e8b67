// The client side of a farm: rank 0 of `mpiexec -n 1 client : -n 2 forkpool-mpi-agent --tasks
// plugin.so ...` (tests/CMakeLists.txt). It knows the plugin's tasks only by name and signature.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "forkpool/mpi.hpp"
#include "forkpool/shared_bytes.hpp"

using namespace forkpool;

TEST_CASE("mpi farm: a client calls a plugin's tasks by name on forkpool-mpi-agent hosts") {
  mpi_pool pool;  // the agents' command lines decide their pools
  REQUIRE(pool.hosts() == 2);
  std::vector<future<int>> squares;
  for (int i = 0; i < 100; ++i) squares.push_back(pool.submit<int>("square", i));
  for (int i = 0; i < 100; ++i) CHECK(squares[i].get() == i * i);
  CHECK(pool.submit<std::string>("shout", std::string("hey")).get() == "hey!");
  CHECK(pool.submit<std::string>("blob", 3 << 20).get().size() == std::size_t{3} << 20);
  CHECK_THROWS_AS(pool.submit<int>("fail", 1).get(), remote_error);
  CHECK_THROWS_AS(pool.submit<int>("crash", 1).get(), worker_died);
  CHECK_THROWS_AS(pool.submit<std::string>("square", 2).get(), bad_arguments);  // wrong types
  const cluster_stats s = pool.stats();
  REQUIRE(s.hosts.size() == 2);
  for (const host_stats& h : s.hosts) CHECK(h.stats.workers_alive == 3);  // --workers 3
  CHECK(pool.submit<int>("square", 11).get() == 121);  // still serving after the crash
}

int main(int argc, char** argv) {
  forkpool::mpi::init(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
