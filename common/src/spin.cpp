#include "forkpool/detail/spin.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace forkpool::detail {
namespace {

// This process's cgroup path in the hierarchy `controller` names ("" for cgroup v2's).
std::string cgroup_path(const std::string& controller) {
  std::ifstream file("/proc/self/cgroup");
  for (std::string line; std::getline(file, line);) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool match =
        controller.empty()
            ? controllers.empty()
            : ("," + controllers + ",").find("," + controller + ",") != std::string::npos;
    if (match) return line.substr(second + 1);
  }
  return "/";
}

// CPUs the quota allows, rounded up; 0 when there is no quota.
unsigned quota_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<unsigned>((quota + period - 1) / period);
}

unsigned cgroup_quota_cpus() {
  // cgroup v2: "max 100000" or "150000 100000", mounted at /sys/fs/cgroup or, on hybrid hosts,
  // at /sys/fs/cgroup/unified.
  const std::string v2 = cgroup_path("");
  for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    std::ifstream file(std::string(mount) + v2 + "/cpu.max");
    std::string quota;
    long long period = 0;
    if (file >> quota >> period)
      return quota == "max" ? 0 : quota_cpus(std::atoll(quota.c_str()), period);
  }
  const std::string v1 = "/sys/fs/cgroup/cpu" + cgroup_path("cpu");
  long long quota = -1, period = 0;
  std::ifstream(v1 + "/cpu.cfs_quota_us") >> quota;
  std::ifstream(v1 + "/cpu.cfs_period_us") >> period;
  return quota_cpus(quota, period);
}

// Runnable threads now, from /proc/loadavg ("0.50 0.40 0.30 3/250 12345": the fourth field's
// first number), or -1.
long runnable_threads() noexcept {
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[128];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return -1;
  text[n] = '\0';
  const char* field = text;
  for (int spaces = 0; spaces < 3 && field != nullptr; ++spaces) {
    field = std::strchr(field, ' ');
    if (field != nullptr) ++field;
  }
  if (field == nullptr) return -1;
  char* end = nullptr;
  const long running = std::strtol(field, &end, 10);
  return end != field && *end == '/' ? running : -1;
}

// No function-local static with a run-time initializer on this path: a worker forked while
// another thread was inside such an initializer would wait on its guard for good. Constant-
// initialized atomics have no guard; the CPU count is read once and cached (a race reads it twice).
constinit std::atomic<std::int64_t> checked_at{0};  // steady_clock nanoseconds
constinit std::atomic<bool> spare{true};
constinit std::atomic<long> online_cpus{0};  // 0: not read yet

long online() noexcept {
  long n = online_cpus.load(std::memory_order_relaxed);
  if (n == 0) {
    n = ::sysconf(_SC_NPROCESSORS_ONLN);
    online_cpus.store(n, std::memory_order_relaxed);
  }
  return n;
}

}  // namespace

bool cpu_to_spare() noexcept {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = checked_at.load(std::memory_order_relaxed);
  if (now - last < 1'000'000 ||
      !checked_at.compare_exchange_strong(last, now, std::memory_order_relaxed))
    return spare.load(std::memory_order_relaxed);
  const long running = runnable_threads();
  const long cpus = online();
  const bool result = running < 0 || cpus <= 0 || running <= cpus + 1;  // see spin.hpp
  spare.store(result, std::memory_order_relaxed);
  return result;
}

unsigned usable_cpus() noexcept {
  try {
    cpu_set_t set;
    unsigned cpus = 1;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus = std::max(1, CPU_COUNT(&set));
    if (const unsigned quota = cgroup_quota_cpus(); quota != 0) cpus = std::min(cpus, quota);
    return cpus;
  } catch (...) {  // reading the cgroup files allocates
    return 1;
  }
}

std::chrono::nanoseconds spin_time(std::chrono::nanoseconds usual) noexcept {
  if (const char* value = std::getenv("FORKPOOL_SPIN_US"); value != nullptr && *value != '\0') {
    char* end = nullptr;
    const long long us = std::strtoll(value, &end, 10);
    if (*end == '\0' && us >= 0) return std::chrono::microseconds(us);
    // a malformed value keeps the defaults
  }
  // On one CPU the side waited for can only run once the spinner stops.
  return usable_cpus() < 2 ? std::chrono::nanoseconds(0) : usual;
}

}  // namespace forkpool::detail
