// forkpool::mpi through the installed package: exits 0 only if a call ran on another rank.
#include <cstdio>
#include <cstdlib>
#include <forkpool/mpi.hpp>

int rank_here(int) {
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  return rank ? std::atoi(rank) : -1;
}
FORKPOOL_TASK(rank_here);

int main(int argc, char** argv) {
  forkpool::mpi::init(argc, argv);
  forkpool::mpi_pool pool({.workers_per_host = 1});
  const int rank = pool.submit(rank_here, 0).get();
  std::printf("mpi consumer: a call ran on rank %d of %d\n", rank, forkpool::mpi::size());
  return rank >= 1 ? 0 : 1;
}
