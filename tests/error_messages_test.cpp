// Errors that say what happened and what to do: what a call by name sent against what the task
// takes, the names near a mistyped one, the function that was never registered, and what a pool
// used before main() runs into.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "master_process.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

template <class Future>
std::string error_of(Future&& f) {
  try {
    f.get();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

int never_registered(int x) { return x; }

TEST_CASE("errors: a call by name with other argument types says what it sent" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  const std::string wrong_type = error_of(pool.submit<int>("square", 2.5));
  CHECK(contains(wrong_type, "task 'square' takes (int)"));
  CHECK(contains(wrong_type, "this call sent (double)"));
  const std::string wrong_count = error_of(pool.submit<int>("square", 1, 2));
  CHECK(contains(wrong_count, "this call sent (int, int)"));
  const std::string wrong_result = error_of(pool.submit<long>("square", 3));
  CHECK(contains(wrong_result, "task 'square' returns int"));
  CHECK(contains(wrong_result, "this call asked for long int"));
  CHECK(pool.submit<int>("square", 3).get() == 9);
}

TEST_CASE("errors: an unknown task name gets the nearest registered names" * doctest::timeout(30)) {
  process_pool pool(options(1));
  CHECK(contains(error_of(pool.submit<int>("sqare", 3)), "did you mean 'square'?"));
  CHECK(contains(error_of(pool.submit<std::string>("demo.gret", "x")), "'demo.greet'"));
  const std::string far = error_of(pool.submit<int>("completely.different", 3));
  CHECK(contains(far, "no task is registered as 'completely.different'"));
  CHECK_FALSE(contains(far, "did you mean"));
}

TEST_CASE("errors: a function never registered is named" * doctest::timeout(30)) {
  process_pool pool(options(1));
  std::string message;
  try {
    (void)pool.submit(never_registered, 1);
  } catch (const unknown_task& e) {
    message = e.what();
  }
  // The test program is linked with -rdynamic (ENABLE_EXPORTS), so dladdr finds the name.
  CHECK(contains(message, "the function never_registered(int) is not registered as a task"));
  CHECK(contains(message, "add FORKPOOL_TASK(fn) at namespace scope"));
}

TEST_CASE("errors: a task that throws something other than a std::exception says so" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  try {
    pool.submit(throws_int, 1).get();
    FAIL("no error");
  } catch (const remote_error& e) {
    CHECK(e.type_name() == "unknown exception");
    CHECK(contains(e.what(), "not a std::exception"));
  }
}

// What tests/before_main_program.cpp printed, having used a pool before main() as `mode` says.
static std::string before_main_output(const std::string& mode) {
  const auto [status, output] =
      run("FORKPOOL_BEFORE_MAIN=" + mode + " " + FORKPOOL_BEFORE_MAIN_PROGRAM);
  CHECK(status == 0);
  return output;
}

TEST_CASE("errors: a submit before main says that static initialisation is the cause" *
          doctest::timeout(60)) {
  const std::string output = before_main_output("submit");
  CHECK(contains(output, "is not registered as a task yet"));
  CHECK(contains(output, "static initialisation"));
  CHECK(contains(output, "submit from main()"));
}

TEST_CASE("errors: a spawn pool before main says that forkpool::init has not run" *
          doctest::timeout(60)) {
  CHECK(contains(before_main_output("spawn"),
                 "forkpool::init(argc, argv) has not run in this process"));
}

TEST_CASE("master: it lists the tasks it loaded when it starts" * doctest::timeout(60)) {
  master_process master({}, {.capture_log = true});
  CHECK(eventually([&] { return contains(master.log(), "forkpool-master: tasks: "); }));
  CHECK(contains(master.log(), "square"));
}

TEST_CASE("master: --version prints the version the headers and the changelog carry" *
          doctest::timeout(30)) {
  const auto [status, output] = run(std::string(FORKPOOL_MASTER_BINARY) + " --version");
  CHECK(status == 0);
  CHECK(output == std::string("forkpool-master ") + FORKPOOL_VERSION_STRING + "\n");
  CHECK(std::to_string(FORKPOOL_VERSION_MAJOR) + "." + std::to_string(FORKPOOL_VERSION_MINOR) +
            "." + std::to_string(FORKPOOL_VERSION_PATCH) ==
        FORKPOOL_VERSION_STRING);
  // The newest changelog entry names this version.
  std::ifstream readme(std::string(FORKPOOL_SOURCE_DIR) + "/README.md");
  std::string line, newest;
  bool in_changelog = false;
  while (std::getline(readme, line)) {
    if (line == "## Changelog")
      in_changelog = true;
    else if (in_changelog && line.rfind("- ", 0) == 0)
      newest = line.substr(2, line.find(':') - 2);
  }
  CHECK(newest == FORKPOOL_VERSION_STRING);
}
