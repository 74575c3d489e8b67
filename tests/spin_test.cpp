// The waiting policy: spin budgets learned from how spins end, and no spinning on one CPU.
#include <doctest/doctest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <vector>

#include "eventually.hpp"
#include "forkpool/detail/spin.hpp"

using namespace forkpool::detail;
using namespace std::chrono_literals;

namespace {

// Spins `spinner` to the end of its budget, as a wait that nothing answers does.
void spin_out(spinner& s) {
  while (s.keep_spinning()) {
  }
}

// The learning cases say the machine has a CPU to spare, whatever the machine is doing.
constexpr auto kNoCap = std::chrono::nanoseconds::max();
bool always_spare() noexcept { return true; }

}  // namespace

TEST_SUITE_BEGIN("spin");

TEST_CASE(
    "spin: after kMissesToStop spins in vain in a row a place stops spinning and probes one wait in kProbeEvery") {
  adaptive_spin learner(4us);
  for (std::uint32_t i = 0; i + 1 < adaptive_spin::kMissesToStop; ++i) {
    spinner s(learner, kNoCap, always_spare);
    spin_out(s);
    CHECK(learner.learned() == 4us);  // one slow answer (the other side was asleep) changes nothing
  }
  {
    spinner s(learner, kNoCap, always_spare);
    spin_out(s);
  }
  CHECK(learner.learned() == 0ns);
  int probes = 0;
  for (std::uint32_t i = 0; i < 4 * adaptive_spin::kProbeEvery; ++i) {
    const auto budget = learner.next_budget();
    CHECK((budget == 0ns || budget == 4us));
    probes += budget == 4us;
  }
  CHECK(probes == 4);
}

TEST_CASE(
    "spin: an answered spin restores the ceiling and an answer between misses resets their count") {
  adaptive_spin learner(4us);
  for (std::uint32_t i = 0; i < adaptive_spin::kMissesToStop; ++i) {
    spinner s(learner, kNoCap, always_spare);
    spin_out(s);
  }
  REQUIRE(learner.learned() == 0ns);
  // Waits sleep at once until the probe, which is answered.
  for (std::uint32_t i = 0; i + 1 < adaptive_spin::kProbeEvery; ++i)
    CHECK(learner.next_budget() == 0ns);
  {
    spinner s(learner, 1s, always_spare);  // a probe spins the ceiling; nothing cuts it short
    CHECK(s.keep_spinning());
    s.answered();
  }
  CHECK(learner.learned() == 4us);
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t i = 0; i + 1 < adaptive_spin::kMissesToStop; ++i) {
      spinner s(learner, kNoCap, always_spare);
      spin_out(s);
    }
    spinner s(learner, kNoCap, always_spare);
    s.answered();
  }
  CHECK(learner.learned() == 4us);
}

TEST_CASE("spin: a spin cut short by the caller's deadline teaches nothing") {
  adaptive_spin learner(1s);
  for (std::uint32_t i = 0; i < 2 * adaptive_spin::kMissesToStop; ++i) {
    spinner s(learner, 2us, always_spare);  // the caller can wait only 2 µs
    spin_out(s);
  }
  CHECK(learner.learned() == 1s);
}

TEST_CASE("spin: an answer after the budget ran out (after a sleep) is not counted as answered") {
  adaptive_spin learner(2us);
  for (std::uint32_t i = 0; i < adaptive_spin::kMissesToStop; ++i) {
    spinner s(learner, kNoCap, always_spare);
    spin_out(s);
    s.answered();
  }
  CHECK(learner.learned() == 0ns);
}

TEST_CASE("spin: a fixed budget spins its ceiling however often it spins in vain") {
  adaptive_spin learner(2us, adaptive_spin::fixed);
  for (std::uint32_t i = 0; i < 2 * adaptive_spin::kMissesToStop; ++i) {
    spinner s(learner, kNoCap, always_spare);
    spin_out(s);
  }
  CHECK(learner.learned() == 2us);
  CHECK(learner.next_budget() == 2us);
}

TEST_CASE("spin: with a ceiling of zero nothing ever spins") {
  adaptive_spin learner(0ns);
  for (std::uint32_t i = 0; i < 2 * adaptive_spin::kProbeEvery; ++i) {
    spinner s(learner, kNoCap, always_spare);
    CHECK_FALSE(s.keep_spinning());
  }
}

TEST_CASE("spin: confined to one CPU a process spins only when FORKPOOL_SPIN_US says so") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(::sched_getcpu(), &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) ::_exit(10);
    ::unsetenv("FORKPOOL_SPIN_US");
    if (usable_cpus() != 1) ::_exit(11);
    if (spin_time(50us) != 0ns) ::_exit(12);
    ::setenv("FORKPOOL_SPIN_US", "7", 1);
    if (spin_time(50us) != 7us) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("spin: with more runnable threads than CPUs there is no CPU to spare and nothing spins") {
  // Busy children: more than the CPUs plus the one a waiting pair may take.
  const long busy = ::sysconf(_SC_NPROCESSORS_ONLN) + 3;
  std::vector<pid_t> children;
  for (long i = 0; i < busy; ++i) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (;;) cpu_relax();
    }
    children.push_back(child);
  }
  adaptive_spin learner(1s);
  bool spare = true, spun = true;
  CHECK(eventually([&] {
    spare = cpu_to_spare();
    spinner s(learner);
    spun = s.keep_spinning();
    return !spare && !spun;
  }));
  for (const pid_t child : children) ::kill(child, SIGKILL);
  for (const pid_t child : children) ::waitpid(child, nullptr, 0);
  CHECK_FALSE(spare);
  CHECK_FALSE(spun);
  CHECK(learner.learned() == 1s);  // not spinning for want of a CPU is not a miss
}

TEST_CASE("spin: usable CPUs follow the affinity mask") {
  cpu_set_t set;
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  const unsigned cpus = usable_cpus();
  CHECK(cpus >= 1);
  CHECK(cpus <= static_cast<unsigned>(CPU_COUNT(&set)));
  if (cpus >= 2 && ::getenv("FORKPOOL_SPIN_US") == nullptr) CHECK(spin_time(50us) == 50us);
}

TEST_SUITE_END();
