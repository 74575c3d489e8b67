// master_load: many client processes submitting at once to one forkpool-master. Each client
// submits its jobs, all in flight at once, and checks every answer; the master runs the example
// plugin's cheap word_counts task. Prints jobs/s over all clients and the p50/p99 latency of a
// job (submit to answer), as one JSON line. With --result-bytes N the task is render_page instead,
// whose answer is N bytes of text: what the master does per byte of a result.
//
//   ./master_load --master PATH --plugin PATH [--clients 32] [--jobs 10000] [--workers 2]
//                 [--result-bytes N]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <cereal/types/map.hpp>

using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  std::string master_binary, plugin;
  int clients = 32, jobs = 10000, workers = 2, result_bytes = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--master")) master_binary = argv[i + 1];
    if (!std::strcmp(argv[i], "--plugin")) plugin = argv[i + 1];
    if (!std::strcmp(argv[i], "--clients")) clients = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--workers")) workers = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--result-bytes")) result_bytes = std::atoi(argv[i + 1]);
  }
  if (master_binary.empty() || plugin.empty()) {
    std::fprintf(stderr,
                 "usage: master_load --master PATH --plugin PATH [--clients N] [--jobs N]\n");
    return 2;
  }
  char dir_template[] = "/tmp/forkpool-load-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string socket = dir + "/master.sock";
  const pid_t master = ::fork();
  if (master == 0) {
    const std::string w = std::to_string(workers);
    ::execl(master_binary.c_str(), master_binary.c_str(), "--workers", w.c_str(), "--tasks",
            plugin.c_str(), "--socket", socket.c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    try {
      forkpool::client probe(socket);
      break;
    } catch (const forkpool::connection_error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Each client writes its latencies (µs) to a pipe; the parent gathers them.
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return 1;
  const auto start = clock_type::now();
  for (int k = 0; k < clients; ++k) {
    if (::fork() != 0) continue;
    ::close(pipe_fds[0]);
    forkpool::client c(socket);
    std::vector<clock_type::time_point> sent(static_cast<std::size_t>(jobs));
    std::vector<forkpool::future<std::map<std::string, int>>> counts;
    std::vector<forkpool::future<std::string>> pages;
    const std::string text = "job " + std::to_string(k) + " of the load";
    for (int i = 0; i < jobs; ++i) {
      sent[static_cast<std::size_t>(i)] = clock_type::now();
      if (result_bytes > 0) {
        pages.push_back(c.submit<std::string>("render_page", result_bytes));
      } else {
        counts.push_back(c.submit<std::map<std::string, int>>("word_counts", text));
      }
    }
    // The answer to job i is right (word_counts: the words of its text; render_page: its size
    // and its last letter).
    const auto answer_is_right = [&](std::size_t i) {
      if (result_bytes > 0) {
        const std::string page = pages[i].get();
        return page.size() == static_cast<std::size_t>(result_bytes) &&
               page.back() == static_cast<char>('a' + (page.size() - 1) % 26);
      }
      auto result = counts[i].get();
      return result["job"] == 1 && result[std::to_string(k)] == 1;
    };
    std::vector<float> latencies(static_cast<std::size_t>(jobs));
    int wrong = 0;
    for (int i = 0; i < jobs; ++i) {
      if (!answer_is_right(static_cast<std::size_t>(i))) ++wrong;
      latencies[static_cast<std::size_t>(i)] =
          std::chrono::duration<float, std::micro>(clock_type::now() -
                                                   sent[static_cast<std::size_t>(i)])
              .count();
    }
    [[maybe_unused]] auto n =
        ::write(pipe_fds[1], latencies.data(), latencies.size() * sizeof(float));
    ::_exit(wrong == 0 ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::vector<float> all;
  std::vector<float> chunk(4096);
  ssize_t n;
  while ((n = ::read(pipe_fds[0], chunk.data(), chunk.size() * sizeof(float))) > 0)
    all.insert(all.end(), chunk.begin(), chunk.begin() + n / static_cast<ssize_t>(sizeof(float)));
  int failures = 0;
  for (int k = 0; k < clients; ++k) {
    int status = 0;
    const pid_t child = ::wait(&status);
    if (child == master) {
      --k;
      continue;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  ::kill(master, SIGTERM);
  ::waitpid(master, nullptr, 0);
  ::rmdir(dir.c_str());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<std::size_t>(p * (all.size() - 1))];
  };
  std::printf(
      "{\"bench\":\"master_load\",\"clients\":%d,\"jobs_per_client\":%d,\"workers\":%d,"
      "\"result_bytes\":%d,"
      "\"answers\":%zu,\"failed_clients\":%d,\"jobs_per_s\":%.0f,\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
      clients, jobs, workers, result_bytes, all.size(), failures, all.size() / seconds,
      pct(0.5) / 1000, pct(0.99) / 1000);
  return failures == 0 && all.size() == static_cast<std::size_t>(clients) * jobs ? 0 : 1;
}
