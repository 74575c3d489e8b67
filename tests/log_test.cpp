// The log hook: a pool's worker events reach the program's handler as one line each, at their
// levels, and lines below the level are not made.
#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "eventually.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

// Collects the lines; puts the default handler and level back when the test ends.
struct captured_log {
  std::mutex mutex;
  std::vector<std::pair<log_level, std::string>> lines;

  explicit captured_log(log_level level) {
    set_log_level(level);
    set_log_handler([this](log_level at, std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(at, std::string(line));
    });
  }
  ~captured_log() {
    set_log_handler({});
    set_log_level(log_level::warning);
  }
  bool has(log_level level, const std::string& text) {
    std::lock_guard lock(mutex);
    for (const auto& [at, line] : lines)
      if (at == level && line.find(text) != std::string::npos) return true;
    return false;
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return lines.size();
  }
};

}  // namespace

TEST_SUITE_BEGIN("log");

TEST_CASE("log: a worker's start and crash reach the handler as info and warning lines" *
          doctest::timeout(60)) {
  captured_log log(log_level::info);
  process_pool pool(options(1));
  CHECK_THROWS_AS(pool.submit(segfaults, 1).get(), worker_died);
  CHECK(eventually([&] { return log.has(log_level::info, " started"); }));
  CHECK(eventually([&] {
    return log.has(log_level::warning,
                   "was killed by signal 11 (Segmentation fault) while "
                   "running task 'segfaults'");
  }));
  CHECK(pool.submit(square, 5).get() == 25);
}

TEST_CASE("log: lines below the level are not made and a throwing handler ends nothing" *
          doctest::timeout(60)) {
  {
    captured_log log(log_level::error);
    process_pool pool(options(1));
    CHECK_THROWS_AS(pool.submit(segfaults, 1).get(), worker_died);
    CHECK(pool.submit(square, 2).get() == 4);  // a replacement started: an info line, not made
    CHECK(log.count() == 0);
  }
  set_log_level(log_level::info);
  set_log_handler([](log_level, std::string_view) { throw std::runtime_error("full disk"); });
  {
    process_pool pool(options(1));
    CHECK_THROWS_AS(pool.submit(segfaults, 1).get(), worker_died);
    CHECK(pool.submit(square, 3).get() == 9);
  }
  set_log_handler({});
  set_log_level(log_level::warning);
  CHECK(log_level_named("info") == log_level::info);
  CHECK(log_level_named("loud") == std::nullopt);
  CHECK(to_string(log_level::warning) == "warning");
}

TEST_SUITE_END();
