// forkpool-master and forkpool::client, through the real binary: serving, the command line, the
// socket's rules, signals, bad input of every kind, a master that goes away, and load.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <forkpool/shared_bytes.hpp>

#include <algorithm>
#include <boost/asio/use_future.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <random>
#include <thread>

#include <forkpool/event_loop.hpp>
#include "forkpool/detail/client_protocol.hpp"
#include "forkpool/version.hpp"
#include "master_process.hpp"

#include "test_tasks.hpp"

using namespace forkpool;
namespace fs = std::filesystem;

TEST_SUITE_BEGIN("master");

TEST_CASE("master: serves jobs to a client with typed results and errors" * doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  CHECK(c.submit<int>("square", 12).get() == 144);
  CHECK(c.submit<std::string>("shout", "hey").get() == "hey!");
  CHECK(c.submit<std::string>("blob", 100000).get().size() == 100000);
  CHECK_THROWS_AS(c.submit<int>("fail", 1).get(), remote_error);
  CHECK_THROWS_AS(c.submit<int>("no_such_task", 1).get(), unknown_task);
  CHECK_THROWS_AS(c.submit<int>("square", std::string("x")).get(), bad_arguments);
  CHECK_THROWS_AS(c.submit<int>("crash", 1).get(), worker_died);
  CHECK(c.submit<int>("square", 3).get() == 9);  // still serving
  std::future<int> via_asio = c.submit<int>("square", 5).async_get(boost::asio::use_future);
  CHECK(via_asio.get() == 25);
  // The crashed worker's replacement may still be starting on a busy machine: wait for it.
  CHECK(eventually([&] { return c.stats().workers_alive == 2; }));
  const pool_stats s = c.stats();
  CHECK(s.completed >= 5);
  CHECK(s.restarts_crash == 1);
}

TEST_CASE("master: a task's shared_bytes reach the client as a copy of its bytes" *
          doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  const shared_bytes blob = c.submit<shared_bytes>("shared_blob", 300000).get();
  REQUIRE(blob.size() == 300000);
  CHECK_FALSE(blob.in_shared_memory());
  bool intact = true;
  for (std::size_t i = 0; i < blob.size(); ++i)
    intact = intact && blob.data()[i] == static_cast<std::byte>(i % 251);
  CHECK(intact);
}

TEST_CASE("master: --max-retries runs a job again after its worker dies and status shows it" *
          doctest::timeout(60)) {
  master_process master({"--max-retries", "2"});
  client c(master.socket);
  CHECK_THROWS_AS(c.submit<int>("crash", 1).get(), worker_died);  // three tries, all crash
  CHECK(c.stats().retries == 2);
  CHECK(c.stats().restarts_crash == 3);
  CHECK(c.submit<int>("square", 6).get() == 36);
  auto [status, output] =
      run(std::string(FORKPOOL_MASTER_BINARY) + " status --socket " + master.socket);
  CHECK(status == 0);
  CHECK(output.find("retries: 2") != std::string::npos);
}

TEST_CASE("master: client::map runs a batch by name with progress and the first error" *
          doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  std::vector<int> inputs(20);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::vector<progress> seen;
  const std::vector<int> squares =
      c.map<int>("square", inputs,
                 {.chunksize = 3, .on_progress = [&](const progress& p) { seen.push_back(p); }});
  REQUIRE(squares.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(squares[static_cast<std::size_t>(i)] == i * i);
  REQUIRE(seen.size() == 7);  // 20 jobs in groups of 3
  CHECK(seen.back().done == 20);
  CHECK(seen.back().total == std::optional<std::size_t>(20));
  CHECK_THROWS_AS(c.map<int>("fail", std::vector<int>{1, 2}), remote_error);
  CHECK_THROWS_AS(c.map<int>("square", inputs, {.chunksize = 0}), std::invalid_argument);
  CHECK(c.submit<int>("square", 4).get() == 16);
}

TEST_CASE("master: logs one line per worker event with a level and --log-level filters them" *
          doctest::timeout(60)) {
  {
    master_process master({"--task-timeout", "300ms", "--max-tasks-per-worker", "50"},
                          {.capture_log = true});
    client c(master.socket);
    CHECK_THROWS_AS(c.submit<int>("crash", 1).get(), worker_died);
    CHECK_THROWS_AS(c.submit<int>("nap", 5000).get(), task_timeout);
    c.restart_workers();
    const auto has = [&](const std::string& text) {
      return eventually([&] { return master.log().find(text) != std::string::npos; });
    };
    CHECK(has("forkpool-master: loaded task library "));
    CHECK(has(": blob, crash, fail, nap, shared_blob, shout, square\n"));
    CHECK(has(" started\n"));
    CHECK(has("forkpool-master: warning: worker "));
    CHECK(has(" was killed by signal 9 (Killed) while running task 'crash'\n"));
    CHECK(has("' ran longer than its timeout (300 ms)\n"));
    CHECK(has("killed: task 'nap'"));
    CHECK(has(" replaced: restart requested\n"));
    CHECK(master.stop() == 0);
    CHECK(master.log().find("forkpool-master: signal 15: draining, finishing 0 jobs\n") !=
          std::string::npos);
    CHECK(master.log().find("forkpool-master: drain finished: every job answered\n") !=
          std::string::npos);
  }
  {
    master_process quiet({"--log-level", "warning"}, {.capture_log = true});
    client c(quiet.socket);
    CHECK_THROWS_AS(c.submit<int>("crash", 1).get(), worker_died);
    CHECK(eventually(
        [&] { return quiet.log().find(" while running task 'crash'") != std::string::npos; }));
    CHECK(quiet.log().find(" started\n") == std::string::npos);
    CHECK(quiet.log().find("loaded task library") == std::string::npos);
  }
}

namespace {
// A TCP connection to 127.0.0.1:port, for speaking raw bytes to the metrics endpoint.
int tcp_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}
std::string read_until_closed(int fd) {
  std::string all;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    all.append(buffer, static_cast<std::size_t>(n));
  return all;
}
}  // namespace

TEST_CASE("master: --metrics serves Prometheus text at /metrics and refuses bad requests" *
          doctest::timeout(60)) {
  master_process master({"--metrics", "127.0.0.1:0"}, {.capture_log = true});
  std::string url;
  REQUIRE(eventually([&] {
    const std::string log = master.log();
    const std::size_t at = log.find("metrics at http://127.0.0.1:");
    if (at == std::string::npos) return false;
    url = log.substr(at + 11, log.find('\n', at) - at - 11);
    return true;
  }));
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  {
    client c(master.socket);
    CHECK(c.submit<int>("square", 3).get() == 9);
    CHECK_THROWS_AS(c.submit<int>("crash", 1).get(), worker_died);
  }
  // A client that connects and says nothing holds no one up.
  const int silent = tcp_connect(port);
  auto [status, page] = run("curl -s -S --max-time 20 " + url);
  CHECK(status == 0);
  for (const char* line :
       {"# TYPE forkpool_workers_alive gauge\n", "# TYPE forkpool_queue_depth gauge\n",
        "# HELP forkpool_tasks_submitted_total ", "forkpool_tasks_submitted_total 2\n",
        "forkpool_tasks_completed_total 1\n", "forkpool_tasks_failed_total 1\n",
        "forkpool_tasks_cancelled_total 0\n", "# TYPE forkpool_worker_restarts_total counter\n",
        "forkpool_worker_restarts_total{reason=\"crash\"} 1\n",
        "forkpool_worker_restarts_total{reason=\"task_count\"} 0\n",
        "forkpool_worker_restarts_total{reason=\"requested\"} 0\n",
        "# TYPE forkpool_worker_rss_bytes gauge\n", "forkpool_worker_rss_bytes{pid=\""})
    CHECK_MESSAGE(page.find(line) != std::string::npos, line);
  auto [post_status, post] = run("curl -s -o /dev/null -w '%{http_code}' -X POST " + url);
  CHECK(post == "405");
  auto [other_status, other] =
      run("curl -s -o /dev/null -w '%{http_code}' " + url.substr(0, url.rfind('/')) + "/other");
  CHECK(other == "404");
  const int garbage = tcp_connect(port);
  const std::string nonsense = "\x01\x02 not http at all\r\n\r\n";
  CHECK(::write(garbage, nonsense.data(), nonsense.size()) ==
        static_cast<ssize_t>(nonsense.size()));
  CHECK(read_until_closed(garbage).rfind("HTTP/1.1 400", 0) == 0);
  ::close(garbage);
  ::close(silent);
}

TEST_CASE("master: thousands of jobs in flight on one connection" * doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  std::vector<future<int>> fs;
  for (int i = 0; i < 5000; ++i) fs.push_back(c.submit<int>("square", i));
  int wrong = 0;
  for (int i = 0; i < 5000; ++i) wrong += fs[i].get() != i * i;
  CHECK(wrong == 0);
}

TEST_CASE("master: bad command lines fail with one line and a non-zero exit" *
          doctest::timeout(60)) {
  const std::string master = FORKPOOL_MASTER_BINARY;
  const std::string plugin = FORKPOOL_TEST_PLUGIN;
  for (const std::string& args :
       {std::string("--workers x --tasks ") + plugin, std::string("--bogus"),
        std::string("--workers 2"), std::string("--workers 2 --tasks /nonexistent/libnothing.so"),
        std::string("--workers 2 --tasks ") + FORKPOOL_EMPTY_PLUGIN,
        std::string("--workers 2 --tasks ") + FORKPOOL_THROWING_PLUGIN,
        std::string("--workers 2 --tasks ") + plugin + " --max-worker-rss 12Q",
        std::string("--workers 2 --tasks ") + plugin + " --task-timeout soon",
        std::string("--workers 0 --tasks ") + plugin}) {
    CAPTURE(args);
    auto [status, output] =
        run(master + " " + args + " --socket /tmp/forkpool-never-created/s.sock");
    CHECK(status == 2);
    CHECK(std::count(output.begin(), output.end(), '\n') == 1);
    CHECK(output.rfind("forkpool-master: ", 0) == 0);
  }
  // Flags whose one line must say what is wrong with the value.
  for (const auto& [flag, said] : std::vector<std::pair<std::string, std::string>>{
           {"--max-retries many", "--max-retries needs a whole number"},
           {"--log-level loud", "--log-level: 'loud' is not debug, info, warning or error"},
           {"--metrics localhost:http", "--metrics: 'localhost:http' needs a port"}}) {
    CAPTURE(flag);
    auto [status, output] = run(master + " --workers 1 --tasks " + plugin + " " + flag +
                                " --socket /tmp/forkpool-never-created/s.sock");
    CHECK(status == 2);
    CHECK(output.find(said) != std::string::npos);
  }
  CHECK_FALSE(fs::exists("/tmp/forkpool-never-created"));
  auto [help_status, help] = run(master + " --help");
  CHECK(help_status == 0);
  CHECK(help.find("--max-worker-rss") != std::string::npos);
  auto [version_status, version] = run(master + " --version");
  CHECK(version_status == 0);
  CHECK(version.rfind("forkpool-master ", 0) == 0);
}

TEST_CASE("master: human units for sizes and durations" * doctest::timeout(60)) {
  master_process master(
      {"--max-worker-rss", "512M", "--task-timeout", "300ms", "--max-tasks-per-worker", "1000"});
  client c(master.socket);
  CHECK_THROWS_AS(c.submit<int>("nap", 5000).get(), task_timeout);  // 300ms applies
  CHECK(c.submit<int>("square", 2).get() == 4);
}

TEST_CASE("master: the socket is private and a second master refuses to start" *
          doctest::timeout(60)) {
  master_process master;
  struct stat st {};
  REQUIRE(::stat(master.socket.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto [status, output] = run(std::string(FORKPOOL_MASTER_BINARY) + " --workers 1 --tasks " +
                              FORKPOOL_TEST_PLUGIN + " --socket " + master.socket);
  CHECK(status != 0);
  CHECK(output.find("already listening") != std::string::npos);
  client c(master.socket);  // the first one is unharmed
  CHECK(c.submit<int>("square", 4).get() == 16);
}

TEST_CASE("master: a stale socket from a dead master is replaced" * doctest::timeout(60)) {
  temp_dir dir;
  const std::string path = (dir.path / "stale.sock").string();
  {
    // A socket file nobody listens on, as a SIGKILLed master leaves.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    ::close(fd);
  }
  REQUIRE(fs::exists(path));
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(FORKPOOL_MASTER_BINARY, FORKPOOL_MASTER_BINARY, "--workers", "1", "--tasks",
            FORKPOOL_TEST_PLUGIN, "--socket", path.c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 500 && !can_connect(path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    client c(path);
    CHECK(c.submit<int>("square", 6).get() == 36);
  }
  ::kill(pid, SIGTERM);
  int status;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(fs::exists(path));  // removed on the way out
}

TEST_CASE("master: status and restart from the shell and SIGHUP" * doctest::timeout(60)) {
  master_process master;
  {
    client c(master.socket);
    c.submit<int>("square", 1).get();
  }
  // Both workers report once started; on a busy machine the second may not have yet.
  std::pair<int, std::string> shown;
  CHECK(eventually([&] {
    shown = run(std::string(FORKPOOL_MASTER_BINARY) + " status --socket " + master.socket);
    return shown.second.find("workers: 2 alive") != std::string::npos;
  }));
  auto [status, output] = shown;
  CHECK(status == 0);
  CHECK(output.find("rss MiB") != std::string::npos);
  auto [restart_status, restart] =
      run(std::string(FORKPOOL_MASTER_BINARY) + " restart --socket " + master.socket);
  CHECK(restart_status == 0);
  client c(master.socket);
  CHECK(eventually([&] { return c.stats().restarts_requested >= 2; }));
  CHECK(c.stats().restarts_requested == 2);
  ::kill(master.pid, SIGHUP);
  CHECK(eventually([&] { return c.stats().restarts_requested >= 4; }));
  CHECK(c.stats().restarts_requested == 4);
  CHECK(c.submit<int>("square", 7).get() == 49);
  auto [no_master, message] =
      run(std::string(FORKPOOL_MASTER_BINARY) + " status --socket /tmp/forkpool-none.sock");
  CHECK(no_master != 0);
  CHECK(message.find("cannot connect") != std::string::npos);
}

TEST_CASE("master: status shows pid and version and uptime and --json and tasks and stop work" *
          doctest::timeout(60)) {
  master_process master;
  {
    client c(master.socket);
    CHECK(c.submit<int>("square", 2).get() == 4);
    const master_info info = c.info();
    CHECK(info.pid == master.pid);
    CHECK(info.version == FORKPOOL_VERSION_STRING);
    CHECK(std::find(info.tasks.begin(), info.tasks.end(), "square") != info.tasks.end());
    CHECK(std::is_sorted(info.tasks.begin(), info.tasks.end()));
    CHECK(info.started <= std::chrono::system_clock::now());
  }
  const std::string binary = FORKPOOL_MASTER_BINARY;
  const std::string pid = std::to_string(master.pid);
  auto [status, text] = run(binary + " status --socket " + master.socket);
  CHECK(status == 0);
  CHECK(text.find("pid " + pid + ", up ") != std::string::npos);
  CHECK(text.find(std::string("forkpool-master ") + FORKPOOL_VERSION_STRING) != std::string::npos);

  auto [json_status, json] = run(binary + " status --json --socket " + master.socket);
  CHECK(json_status == 0);
  CHECK(json.front() == '{');
  CHECK(json.find("}\n") == json.size() - 2);  // one object, one line
  CHECK(json.find("\"pid\":" + pid + ",") != std::string::npos);
  CHECK(json.find(std::string("\"version\":\"") + FORKPOOL_VERSION_STRING + "\"") !=
        std::string::npos);
  CHECK(json.find("\"square\"") != std::string::npos);
  CHECK(json.find("\"completed\":1,") != std::string::npos);
  CHECK(json.find("\"workers\":[{\"pid\":") != std::string::npos);
  CHECK(json.find("\"restarts\":{\"task_count\":0,") != std::string::npos);

  auto [tasks_status, tasks] = run(binary + " tasks --socket " + master.socket);
  CHECK(tasks_status == 0);
  CHECK(tasks.find("square\n") != std::string::npos);
  CHECK(tasks.find("shout\n") != std::string::npos);

  auto [stop_status, stopped] = run(binary + " stop --socket " + master.socket);
  CHECK(stop_status == 0);
  CHECK(stopped.find("stopped") != std::string::npos);
  // stop returned once the master had exited: it is a zombie waiting for this test, already.
  int exit_status = 0;
  CHECK(::waitpid(master.pid, &exit_status, WNOHANG) == master.pid);
  CHECK(WIFEXITED(exit_status));
  CHECK(WEXITSTATUS(exit_status) == 0);
  master.pid = -1;
  CHECK_FALSE(fs::exists(master.socket));
  auto [no_master, message] = run(binary + " stop --socket " + master.socket);
  CHECK(no_master != 0);
  CHECK(message.find("cannot connect") != std::string::npos);
}

TEST_CASE("master: SIGTERM finishes running jobs and exits 0 and removes the socket" *
          doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  auto slow = c.submit<int>("nap", 500);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int status = master.stop(SIGTERM);
  CHECK(slow.get() > 0);  // answered before the master left
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(fs::exists(master.socket));
}

TEST_CASE(
    "master: past its drain timeout a master cancels the jobs not started and kills the running" *
    doctest::timeout(60)) {
  master_process master({"--workers", "1", "--drain-timeout", "300ms"});
  client c(master.socket);
  // Ten minutes: the master exits within the test's time limit only if it stops the job.
  auto running = c.submit<int>("nap", 600'000);
  std::vector<future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(c.submit<int>("nap", 10));
  CHECK(eventually([&] { return c.stats().per_worker.size() == 1 && c.stats().queue_depth == 6; }));
  const int worker = c.stats().per_worker.at(0).pid;
  ::kill(master.pid, SIGTERM);
  for (auto& f : queued) CHECK_THROWS_AS(f.get(), cancelled_error);
  CHECK_THROWS_AS(running.get(), connection_error);  // still running when the master left
  CHECK(WEXITSTATUS(master.stop()) == 0);
  CHECK(::kill(worker, 0) != 0);  // the worker went with it
}

TEST_CASE("master: a master that dies mid-job fails the client's futures and nothing hangs" *
          doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  std::vector<future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(c.submit<int>("nap", 2000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  master.stop(SIGKILL);
  for (auto& f : fs) CHECK_THROWS_AS(f.get(), connection_error);
  CHECK_THROWS_AS(c.submit<int>("square", 1), connection_error);
  CHECK_THROWS_AS(c.stats(), connection_error);
}

TEST_CASE("master: a client reconnects to a master restarted on the same socket" *
          doctest::timeout(60)) {
  master_process first;
  client c(first.socket);
  CHECK(c.submit<int>("square", 2).get() == 4);
  future<int> in_flight = c.submit<int>("nap", 5000);  // sent when submit returns
  first.stop(SIGKILL);
  CHECK_THROWS_AS(in_flight.get(), connection_error);
  // No master: each try fails at once, and the client stays usable.
  CHECK_THROWS_AS(c.submit<int>("square", 1), connection_error);
  CHECK_THROWS_AS(c.stats(), connection_error);
  master_process second({"--socket", first.socket});
  CHECK(c.submit<int>("square", 3).get() == 9);
  CHECK(c.info().pid == second.pid);
  std::vector<future<int>> many;
  for (int i = 0; i < 100; ++i) many.push_back(c.submit<int>("square", i));
  for (int i = 0; i < 100; ++i) CHECK(many[static_cast<std::size_t>(i)].get() == i * i);
}

TEST_CASE("master: a result too large to send fails only its own job" * doctest::timeout(60)) {
  master_process master;
  client c(master.socket);
  // Past the master's rings (4 MiB), within what a client accepts (64 MiB): delivered.
  CHECK(c.submit<std::string>("blob", 6 << 20).get().size() == std::size_t{6} << 20);
  // The master reads these from the worker's memory (where it may); what it passes on is the
  // same.
  for (int round = 0; round < 4; ++round)
    CHECK(c.submit<std::string>("blob", 6 << 20).get() == std::string(std::size_t{6} << 20, 'b'));
  if (test_tasks::can_read_child_memory())
    CHECK(c.stats().result_bytes_read_in_place >= std::uint64_t{3} * (6 << 20));
  // Beyond what a client accepts: that job fails, typed, and the connection keeps serving.
  CHECK_THROWS_AS(c.submit<std::string>("blob", 65 << 20).get(), protocol_error);
  CHECK(c.submit<int>("square", 7).get() == 49);
}

TEST_CASE("master: oversized and truncated and garbage messages close only that connection" *
          doctest::timeout(60)) {
  master_process master({"--max-message", "1M"});
  client good(master.socket);
  {
    raw_connection raw(master.socket);
    const std::uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};  // ~2 GiB announced
    raw.send(huge, sizeof huge);
    CHECK(raw.closed_by_master());
  }
  {
    raw_connection raw(master.socket);
    const std::uint8_t partial[6] = {100, 0, 0, 0, 1, 2};  // 100 bytes announced, 2 sent
    raw.send(partial, sizeof partial);
  }  // and gone
  {
    raw_connection raw(master.socket);
    std::mt19937 random(42);
    std::vector<std::uint8_t> garbage(64);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(random());
    garbage[0] = 60;  // a plausible length, then nonsense
    garbage[1] = garbage[2] = garbage[3] = 0;
    raw.send(garbage.data(), garbage.size());
    CHECK(raw.closed_by_master());
  }
  {
    // A well-framed request whose string length lies.
    raw_connection raw(master.socket);
    detail::byte_buffer bytes;
    detail::client_request request;
    request.task = "square";
    detail::append_message(bytes, request);
    bytes[4 + 1 + 8] = std::byte{0xff};  // the task name's length, now enormous
    raw.send(bytes.data(), bytes.size());
    CHECK(raw.closed_by_master());
  }
  CHECK(good.submit<int>("square", 8).get() == 64);
  CHECK(client(master.socket).submit<int>("square", 9).get() == 81);
}

TEST_CASE("master: a client that disconnects with jobs in flight harms no one" *
          doctest::timeout(60)) {
  master_process master;
  {
    client leaving(master.socket);
    for (int i = 0; i < 200; ++i) (void)leaving.submit<int>("nap", 5);
  }
  client staying(master.socket);
  CHECK(staying.submit<int>("square", 11).get() == 121);
  for (int i = 0; i < 300 && staying.stats().queue_depth > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(staying.stats().queue_depth == 0);  // the abandoned jobs were cancelled or finished
}

TEST_CASE("master: a client that never reads is held back and the master's memory stays bounded" *
          doctest::timeout(120)) {
  master_process master;
  raw_connection greedy(master.socket);
  // 2000 requests for 256 KiB results each (500 MiB), never reading a reply.
  detail::byte_buffer bytes;
  for (std::uint64_t id = 1; id <= 2000; ++id) {
    detail::client_request request;
    request.id = id;
    request.task = "blob";
    request.argument_signature = detail::signature_of<int>();
    request.result_signature = detail::signature_of<std::string>();
    detail::encode_into(request.arguments, 256 * 1024);
    detail::append_message(bytes, request);
  }
  ::fcntl(greedy.fd, F_SETFL, O_NONBLOCK);  // the master stops reading us: sends would block
  std::size_t sent = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sent < bytes.size() && std::chrono::steady_clock::now() < give_up) {
    const ssize_t n = ::send(greedy.fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0)
      sent += static_cast<std::size_t>(n);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  client other(master.socket);
  CHECK(other.submit<int>("square", 5).get() == 25);  // still serving everyone else
  const std::uint64_t rss = rss_of(master.pid);
  MESSAGE("master RSS with a client that never reads: " << (rss >> 20) << " MiB");
  // Far below the 500 MiB of unread results. (Not under AddressSanitizer, whose quarantine keeps
  // up to 256 MiB of freed memory resident.)
  if (!test_tasks::kSanitized) CHECK(rss < (200ull << 20));
}

TEST_CASE("master: another user's connection is refused" * doctest::timeout(60)) {
  if (::getuid() != 0) return;  // needs root to act as another user
  master_process master;
  // Open the way through the file system, so that only the credential check stands.
  ::chmod(master.dir.path.c_str(), 0777);
  ::chmod(master.socket.c_str(), 0777);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    try {
      client intruder(master.socket);
      intruder.submit<int>("square", 2).get();
      ::_exit(0);  // served: wrong
    } catch (const connection_error&) {
      ::_exit(1);  // refused: right
    } catch (...) {
      ::_exit(2);
    }
  }
  int status;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(client(master.socket).submit<int>("square", 3).get() == 9);
}

TEST_CASE("master: many client processes at once each get every answer exactly once" *
          doctest::timeout(120)) {
  master_process master;
  constexpr int kClients = 8, kJobs = 2000;
  std::vector<pid_t> children;
  for (int k = 0; k < kClients; ++k) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int wrong = 0;
      try {
        client c(master.socket);
        std::vector<future<int>> fs;
        for (int i = 0; i < kJobs; ++i) fs.push_back(c.submit<int>("square", k * kJobs + i));
        for (int i = 0; i < kJobs; ++i) wrong += fs[i].get() != (k * kJobs + i) * (k * kJobs + i);
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(wrong == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  client c(master.socket);
  CHECK(c.stats().completed == kClients * kJobs);
}

TEST_SUITE_END();
