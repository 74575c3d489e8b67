#include "test_tasks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

namespace test_tasks {

int square(int x) { return x * x; }
double half_of(long x) { return static_cast<double>(x) / 2.0; }
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
bool can_read_child_memory() {
  static volatile std::uint64_t marker = 0x5eed;
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  std::uint64_t copy = 0;
  const iovec local{&copy, sizeof copy};
  const iovec remote{const_cast<std::uint64_t*>(&marker), sizeof copy};
  const bool readable =
      ::process_vm_readv(child, &local, 1, &remote, 1, 0) == sizeof copy && copy == 0x5eed;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return readable;
}
std::string patterned_string(std::size_t bytes, int seed) {
  std::string out(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i)
    out[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(seed) * 7 + i / 4093) & 0xff);
  return out;
}
std::vector<std::string> patterned_pieces(std::size_t pieces, std::size_t bytes) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < pieces; ++i)
    out.push_back(patterned_string(i % 2 == 0 ? bytes : 10 + i, static_cast<int>(i)));
  return out;
}
std::pair<std::string, std::vector<double>> string_and_numbers(std::size_t bytes) {
  std::vector<double> numbers(bytes / sizeof(double));
  for (std::size_t i = 0; i < numbers.size(); ++i) numbers[i] = static_cast<double>(i) * 0.25;
  return {patterned_string(bytes, 3), std::move(numbers)};
}
rendered render(std::size_t bytes) { return {bytes, 0}; }
copy_counted ramp(std::size_t count) {
  std::vector<double> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<double>(i) + 0.5;
  return copy_counted(std::move(values));
}
double sum_of(const copy_counted& numbers) {
  double sum = 0;
  for (double v : numbers.values) sum += v;
  return sum;
}
std::uint64_t weighted_sum(const std::string& data) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < data.size(); ++i)
    sum += (i % 1009 + 1) * static_cast<unsigned char>(data[i]);
  return sum;
}

std::string environment_variable(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? value : "";
}

std::vector<std::unique_ptr<char[]>> leaked;  // grows for the worker's whole life

void leak_kib(int kib) {
  auto block = std::make_unique<char[]>(static_cast<std::size_t>(kib) * 1024);
  for (int i = 0; i < kib * 1024; i += 4096) block[i] = 1;  // touch every page: it is resident
  leaked.push_back(std::move(block));
}

std::uint64_t ignore_sigterm_and_sleep(int ms) {
  ::signal(SIGTERM, SIG_IGN);
  return sleep_ms(ms);
}

int record_run(const std::string& path, int id) {
  const std::string line = std::to_string(id) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("short write to " + path);
  return id;
}

int waits_for_peers(const std::string& path, int peers) {
  record_run(path, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    int lines = 0;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) ++lines;
    if (lines >= peers || std::chrono::steady_clock::now() > deadline) return lines;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int fails_at_fifty(int x) {
  if (x == 50) throw std::runtime_error("input fifty is refused");
  return x;
}

int doubled_after_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms < 0 ? -ms : ms));
  if (ms < 0) throw std::runtime_error("refused after waiting");
  return 2 * ms;
}

namespace {
// True the first time for `path` across every process (O_EXCL creates the marker once).
bool first_run(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}
}  // namespace

int crashes_once(const std::string& marker, int x) {
  if (first_run(marker)) ::raise(SIGKILL);
  return x;
}

int hangs_once(const std::string& marker, int x) {
  if (first_run(marker))
    for (;;) ::pause();
  return x;
}

void mark_initialized() { ::setenv("FORKPOOL_TEST_INITIALIZED", "yes", 1); }
void failing_initializer() { throw std::runtime_error("no database"); }

int master_marker_value = 0;
int master_marker() { return master_marker_value; }

}  // namespace test_tasks

// Registered at namespace scope, as users do.
int cube(int x) { return x * x * x; }
FORKPOOL_TASK(cube);  // registered as "cube"
FORKPOOL_TASK_NAMED(test_tasks::square, "square");
FORKPOOL_TASK_NAMED(test_tasks::half_of, "half_of");
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
FORKPOOL_TASK_NAMED(test_tasks::doubled_after_ms, "doubled_after_ms");
FORKPOOL_TASK_NAMED(test_tasks::aborts, "aborts");
FORKPOOL_TASK_NAMED(test_tasks::segfaults, "segfaults");
FORKPOOL_TASK_NAMED(test_tasks::exits_with, "exits_with");
FORKPOOL_TASK_NAMED(test_tasks::big_string, "big_string");
FORKPOOL_TASK_NAMED(test_tasks::patterned_string, "patterned_string");
FORKPOOL_TASK_NAMED(test_tasks::weighted_sum, "weighted_sum");
FORKPOOL_TASK_NAMED(test_tasks::patterned_pieces, "patterned_pieces");
FORKPOOL_TASK_NAMED(test_tasks::string_and_numbers, "string_and_numbers");
FORKPOOL_TASK_NAMED(test_tasks::render, "render");
FORKPOOL_TASK_NAMED(test_tasks::ramp, "ramp");
FORKPOOL_TASK_NAMED(test_tasks::sum_of, "sum_of");
FORKPOOL_TASK_NAMED(test_tasks::environment_variable, "environment_variable");
FORKPOOL_TASK_NAMED(test_tasks::leak_kib, "leak_kib");
FORKPOOL_TASK_NAMED(test_tasks::ignore_sigterm_and_sleep, "ignore_sigterm_and_sleep");
FORKPOOL_TASK_NAMED(test_tasks::record_run, "record_run");
FORKPOOL_TASK_NAMED(test_tasks::waits_for_peers, "waits_for_peers");
FORKPOOL_TASK_NAMED(test_tasks::fails_at_fifty, "fails_at_fifty");
FORKPOOL_TASK_NAMED(test_tasks::crashes_once, "crashes_once");
FORKPOOL_TASK_NAMED(test_tasks::hangs_once, "hangs_once");
FORKPOOL_TASK_NAMED(test_tasks::mark_initialized, "mark_initialized");
FORKPOOL_TASK_NAMED(test_tasks::failing_initializer, "failing_initializer");
FORKPOOL_TASK_NAMED(test_tasks::master_marker, "master_marker");
