#include "test_tasks.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace test_tasks {

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
std::string greet(const std::string& who) { return "hello, " + who; }
std::vector<int> reversed(std::vector<int> values) { return {values.rbegin(), values.rend()}; }
std::map<std::string, int> word_lengths(const std::vector<std::string>& words) {
  std::map<std::string, int> lengths;
  for (const auto& w : words) lengths[w] = static_cast<int>(w.size());
  return lengths;
}
point moved(const point& p, int dx, int dy) { return {p.x + dx, p.y + dy, p.label + "'"}; }
int answer() { return 42; }
void touch(int x) {
  if (x < 0) throw std::invalid_argument("negative");
}
std::uint64_t sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<std::uint64_t>(::getpid());
}
int pid_of_worker() { return static_cast<int>(::getpid()); }
int throws_runtime_error(const std::string& message) { throw std::runtime_error(message); }
int throws_int(int) { throw 7; }
int aborts(int) { std::abort(); }
int segfaults(int) {
  ::raise(SIGSEGV);
  return 0;
}
int exits_with(int status) { ::_exit(status); }
std::string big_string(std::size_t bytes) { return std::string(bytes, 'x'); }

std::string environment_variable(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? value : "";
}

}  // namespace test_tasks

// Registered at namespace scope, as users do.
int cube(int x) { return x * x * x; }
FORKPOOL_TASK(cube);  // registered as "cube"
FORKPOOL_TASK_NAMED(test_tasks::square, "square");
FORKPOOL_TASK_NAMED(test_tasks::add, "add");
FORKPOOL_TASK_NAMED(test_tasks::greet, "demo.greet");
FORKPOOL_TASK_NAMED(test_tasks::reversed, "reversed");
FORKPOOL_TASK_NAMED(test_tasks::word_lengths, "word_lengths");
FORKPOOL_TASK_NAMED(test_tasks::moved, "moved");
FORKPOOL_TASK_NAMED(test_tasks::answer, "answer");
FORKPOOL_TASK_NAMED(test_tasks::touch, "touch");
FORKPOOL_TASK_NAMED(test_tasks::sleep_ms, "sleep_ms");
FORKPOOL_TASK_NAMED(test_tasks::pid_of_worker, "pid_of_worker");
FORKPOOL_TASK_NAMED(test_tasks::throws_runtime_error, "throws_runtime_error");
FORKPOOL_TASK_NAMED(test_tasks::throws_int, "throws_int");
FORKPOOL_TASK_NAMED(test_tasks::aborts, "aborts");
FORKPOOL_TASK_NAMED(test_tasks::segfaults, "segfaults");
FORKPOOL_TASK_NAMED(test_tasks::exits_with, "exits_with");
FORKPOOL_TASK_NAMED(test_tasks::big_string, "big_string");
FORKPOOL_TASK_NAMED(test_tasks::environment_variable, "environment_variable");
