// A process pool when the system is short of descriptors: the program lives, the pool says why
// (broken_pool), and a later pool works once descriptors are free.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

// UndefinedBehaviorSanitizer's type check probes memory through a pipe(), so out of descriptors
// it reports every exception constructed as a bad object. These cases run unsanitized only.
bool sanitizer_needs_descriptors() {
  if (kSanitized) MESSAGE("skipped under the sanitizers: their runtime needs free descriptors");
  return kSanitized;
}

// Lowers this process's descriptor limit for a while (RLIMIT_NOFILE, soft), restored on leaving.
class descriptor_limit {
 public:
  explicit descriptor_limit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  void restore() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  ~descriptor_limit() { restore(); }

 private:
  rlimit saved_{};
};

// The lowest descriptor number free now: a limit of this leaves no descriptor to open.
rlim_t lowest_free_descriptor() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return static_cast<rlim_t>(fd);
}

}  // namespace

TEST_SUITE_BEGIN("pool");

TEST_CASE("pool: a pool made when descriptors are short throws broken_pool and a later one works" *
          doctest::timeout(60)) {
  if (sanitizer_needs_descriptors()) return;
  {
    descriptor_limit limit(64);  // 16 workers need about 80
    bool broken = false;
    try {
      process_pool pool(options(16));
    } catch (const broken_pool& e) {
      broken = true;
      MESSAGE(std::string(e.what()));
      CHECK(std::string(e.what()).find("Too many open files") != std::string::npos);
    }
    CHECK(broken);
  }
  process_pool pool(options(2));
  CHECK(pool.submit(square, 9).get() == 81);
}

TEST_CASE(
    "pool: workers that cannot be replaced break the pool with broken_pool and the program lives" *
    doctest::timeout(60)) {
  if (sanitizer_needs_descriptors()) return;
  // Every descriptor number below the limit in use, and the pool's own above it: the ones its
  // retiring workers give back cannot be reused either. Nothing new can be opened at all.
  const rlim_t below_the_pool = lowest_free_descriptor();
  process_pool pool(options(2));
  CHECK(pool.submit(square, 2).get() == 4);
  // Both serving first: a worker still starting when restart_workers() is called is already a
  // new one and is not restarted, so it would go on serving.
  wait_for_workers(pool, 2);
  std::vector<future<int>> calls;
  {
    descriptor_limit limit(below_the_pool);
    std::vector<int> holes;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) holes.push_back(fd);
    pool.restart_workers();  // the replacements cannot be made
    for (int i = 0; i < 20; ++i) calls.push_back(pool.submit(square, i));
    int ran = 0, broken = 0;
    for (auto& f : calls) {
      // Each call either ran on a worker that had not stopped yet, or failed with broken_pool.
      try {
        ran += f.get(std::chrono::seconds(30)) >= 0;
      } catch (const broken_pool& e) {
        ++broken;
        CHECK(std::string(e.what()).find("no worker can be started") != std::string::npos);
      }
    }
    CHECK(ran + broken == 20);
    CHECK_THROWS_AS(pool.submit(square, 3).get(std::chrono::seconds(30)), broken_pool);
    for (int fd : holes) ::close(fd);
  }
  // A broken pool stays broken; a new one works once descriptors are free.
  CHECK_THROWS_AS(pool.submit(square, 3).get(std::chrono::seconds(30)), broken_pool);
  process_pool fresh(options(2));
  CHECK(fresh.submit(square, 5).get() == 25);
}

TEST_SUITE_END();
