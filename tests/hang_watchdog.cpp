// A watchdog for the test runner. A test case that is still running after kHangSeconds prints
// its name and the stacks of every thread of the test process and of its descendants (workers,
// fork server, masters), through gdb when it is installed, then aborts. CTest's own time limit
// would only kill the run, leaving no trace of where it stood.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

// Below the CTest time limit (tests/CMakeLists.txt), so the dump happens before CTest kills us.
constexpr auto kHangSeconds = std::chrono::seconds(100);

// Never destroyed: the watching thread is detached and may look at it during exit.
struct watch_state {
  std::mutex mutex;
  std::string running_case;  // empty between test cases
  std::chrono::steady_clock::time_point started_at;
};
watch_state& state = *new watch_state;

void dump_stacks_and_abort(const std::string& name) {
  std::fprintf(stderr, "\n*** test case still running after %lld s: %s\n",
               static_cast<long long>(kHangSeconds.count()), name.c_str());
  const std::string command =
      "dump() { echo \"=== pid $1: $(tr '\\0' ' ' < /proc/$1/cmdline)\"; "
      "gdb -p $1 -batch -nx -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)'; "
      "for child in $(pgrep -P $1); do dump $child; done; }; "
      "command -v gdb >/dev/null || echo '(gdb is not installed: no stacks)'; dump " +
      std::to_string(::getpid()) + " >&2";
  std::fflush(nullptr);
  (void)std::system(command.c_str());
  std::abort();
}

std::atomic<bool> watching{false};

void watch() {
  watching.store(true);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::string name;
    {
      std::lock_guard lock(state.mutex);
      if (state.running_case.empty() ||
          std::chrono::steady_clock::now() - state.started_at < kHangSeconds) {
        continue;
      }
      name = state.running_case;
    }
    dump_stacks_and_abort(name);
  }
}

struct hang_watchdog final : doctest::IReporter {
  explicit hang_watchdog(const doctest::ContextOptions&) {
    // Tests fork. The sanitizer runtime of g++ 12 does not lock its allocator around fork, so a
    // child forked while this thread is still starting up (allocating) could inherit a held
    // allocator lock and hang. Once watch() runs, this thread allocates nothing until a hang.
    static std::once_flag once;
    std::call_once(once, [] {
      std::thread(watch).detach();
      while (!watching.load()) std::this_thread::yield();
    });
  }
  void test_case_start(const doctest::TestCaseData& data) override {
    std::lock_guard lock(state.mutex);
    state.running_case = data.m_name;
    state.started_at = std::chrono::steady_clock::now();
  }
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    std::lock_guard lock(state.mutex);
    state.running_case.clear();
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("hang_watchdog", 1, hang_watchdog);
