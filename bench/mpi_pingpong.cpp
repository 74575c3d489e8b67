// mpi_pingpong: the floor under mpi_pool's round trip, an 8-byte MPI_Send/MPI_Recv ping-pong
// between ranks 0 and 1 (Open MPI's shared-memory transport on one machine). Prints one JSON
// line on rank 0.
//
//   mpiexec -n 2 --bind-to none ./mpi_pingpong [--roundtrips 20000]
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int roundtrips = 20000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--roundtrips")) roundtrips = std::atoi(argv[i + 1]);
  char message[8] = {};
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(roundtrips));
  for (int i = 0; i < roundtrips; ++i) {
    if (rank == 0) {
      const auto start = std::chrono::steady_clock::now();
      MPI_Send(message, sizeof message, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(message, sizeof message, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      latencies.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    } else if (rank == 1) {
      MPI_Recv(message, sizeof message, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(message, sizeof message, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
  }
  if (rank == 0) {
    std::sort(latencies.begin(), latencies.end());
    std::printf(
        "{\"bench\":\"mpi_pingpong\",\"roundtrip_p50_us\":%.2f,\"roundtrip_p99_us\":%.2f}\n",
        latencies[latencies.size() / 2], latencies[latencies.size() * 99 / 100]);
  }
  MPI_Finalize();
  return 0;
}
