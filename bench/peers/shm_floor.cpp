// shm_floor: what two processes sharing memory can do at best, the floor under forkpool's figures
// in bench/compare. A busy-waiting ping-pong of one word (round trip), a one-way stream of 8-byte
// messages through a single-producer single-consumer ring (one publish per message and per 64),
// and a 64 MiB memcpy into pre-faulted and into fresh memory. Prints one JSON line.
//
//   ./shm_floor [--calls 200000] [--messages 10000000] [--mib 64] [--repeat 5]
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t kRingSlots = 4096;

struct shared {
  alignas(64) std::atomic<std::uint64_t> ping{0};
  alignas(64) std::atomic<std::uint64_t> pong{0};
  alignas(64) std::atomic<std::uint64_t> write{0};
  alignas(64) std::atomic<std::uint64_t> read{0};
  alignas(64) std::uint64_t slots[kRingSlots];
};

inline void relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

// Messages per second through the ring, publishing the write position every `batch` messages.
double stream(shared& s, std::uint64_t messages, std::uint64_t batch) {
  s.write.store(0);
  s.read.store(0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::uint64_t read = 0, sum = 0;
    while (read < messages) {
      const std::uint64_t written = s.write.load(std::memory_order_acquire);
      while (read < written) sum += s.slots[read++ % kRingSlots];
      s.read.store(read, std::memory_order_release);
      relax();
    }
    ::_exit(sum == messages * (messages - 1) / 2 ? 0 : 1);
  }
  const auto start = clock_type::now();
  std::uint64_t write = 0, room_until = kRingSlots;
  while (write < messages) {
    if (write == room_until) {
      s.write.store(write, std::memory_order_release);
      while ((room_until = s.read.load(std::memory_order_acquire) + kRingSlots) == write) relax();
    }
    s.slots[write % kRingSlots] = write;
    ++write;
    if (write % batch == 0) s.write.store(write, std::memory_order_release);
  }
  s.write.store(write, std::memory_order_release);
  int status = 0;
  ::waitpid(child, &status, 0);
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::exit(1);
  return static_cast<double>(messages) / seconds;
}

double copy_ms(const std::vector<char>& from, char* to) {
  const auto start = clock_type::now();
  std::memcpy(to, from.data(), from.size());
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the copy is not optimized away
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  long calls = 200000, messages = 10000000, mib = 64, repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const long value = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--calls")) calls = value;
    if (!std::strcmp(argv[i], "--messages")) messages = value;
    if (!std::strcmp(argv[i], "--mib")) mib = value;
    if (!std::strcmp(argv[i], "--repeat")) repeat = value;
  }
  void* memory =
      ::mmap(nullptr, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 1;
  shared& s = *new (memory) shared;

  // Ping-pong: the child echoes each ping; both sides busy-wait.
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (std::uint64_t seen = 0;;) {
      std::uint64_t ping;
      while ((ping = s.ping.load(std::memory_order_acquire)) == seen) relax();
      if (ping == ~std::uint64_t{0}) ::_exit(0);
      seen = ping;
      s.pong.store(ping, std::memory_order_release);
    }
  }
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(calls));
  for (std::uint64_t i = 1; i <= static_cast<std::uint64_t>(calls); ++i) {
    const auto start = clock_type::now();
    s.ping.store(i, std::memory_order_release);
    while (s.pong.load(std::memory_order_acquire) != i) relax();
    latencies.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  s.ping.store(~std::uint64_t{0}, std::memory_order_release);
  ::waitpid(child, nullptr, 0);

  const auto n = static_cast<std::uint64_t>(messages);
  const double one_by_one = stream(s, n, 1);
  const double batched = stream(s, n, 64);

  const std::vector<char> source(static_cast<std::size_t>(mib) << 20, 'x');
  std::vector<char> warm(source.size(), 'y');  // pre-faulted
  std::vector<double> warm_ms, fresh_ms;
  for (long r = 0; r < repeat; ++r) {
    warm_ms.push_back(copy_ms(source, warm.data()));
    void* fresh =
        ::mmap(nullptr, source.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) return 1;
    fresh_ms.push_back(copy_ms(source, static_cast<char*>(fresh)));
    ::munmap(fresh, source.size());
  }
  ::munmap(memory, sizeof(shared));
  std::printf(
      "{\"bench\":\"shm_floor\",\"p50_us\":%.2f,\"p99_us\":%.2f,\"ring_msgs_per_s\":%.0f,"
      "\"ring_batched_msgs_per_s\":%.0f,\"mib\":%ld,\"memcpy_prefaulted_ms\":%.1f,\"memcpy_fresh_ms\":%.1f}\n",
      percentile(latencies, 0.5), percentile(latencies, 0.99), one_by_one, batched, mib,
      percentile(warm_ms, 0.5), percentile(fresh_ms, 0.5));
  return 0;
}
