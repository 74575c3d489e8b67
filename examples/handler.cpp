// handler: a small Asio TCP server whose request handler offloads a blocking function through a
// forkpool::any_executor, so that the same handler runs its work on threads or on processes,
// chosen by a flag (and switchable while it serves). A ticker shows that the event loop never
// blocks; built-in clients send the requests and check every answer. Stops on SIGINT/SIGTERM.
//
//   ./handler [--threads | --processes] [--clients 4] [--requests 4]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <functional>
#include <istream>
#include <string>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono;

// The blocking work a request needs: a checksum that takes tens of milliseconds.
long checksum(long seed) {
  long acc = seed;
  for (long i = 0; i < 20'000'000; ++i) acc = (acc * 31 + i) % 1'000'000'007;
  return acc;
}
FORKPOOL_TASK(checksum);

// One connection: a number per line in, its checksum per line out.
asio::awaitable<void> serve(tcp::socket socket, forkpool::any_executor& work) {
  asio::streambuf in;
  try {
    for (;;) {
      co_await asio::async_read_until(socket, in, '\n', asio::use_awaitable);
      std::istream line(&in);
      long seed = 0;
      line >> seed;
      line.ignore(1);
      const long sum = co_await forkpool::run_in_executor(work, checksum, seed);  // never blocks
      const std::string reply = std::to_string(sum) + "\n";
      co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
    }
  } catch (const boost::system::system_error&) {
    // the client closed the connection
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, forkpool::any_executor& work) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), work), asio::detached);
  }
}

// A client: sends `requests` numbers one at a time and keeps each answer, to be checked once the
// loop has stopped (checking here would block the loop the ticker watches).
asio::awaitable<void> client(tcp::endpoint server, int id, int requests,
                             std::vector<std::pair<long, long>>& answers, int& left) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(server, asio::use_awaitable);
  asio::streambuf in;
  for (int i = 0; i < requests; ++i) {
    const long seed = id * 1000 + i;
    const std::string request = std::to_string(seed) + "\n";
    co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
    co_await asio::async_read_until(socket, in, '\n', asio::use_awaitable);
    std::istream line(&in);
    long answer = 0;
    line >> answer;
    line.ignore(1);
    answers.emplace_back(seed, answer);
  }
  --left;
}

// Wakes every 20 ms and records how late it woke: the loop's lag.
asio::awaitable<void> ticker(const bool& done, milliseconds& max_lag) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto next = steady_clock::now();
  while (!done) {
    next += milliseconds(20);
    timer.expires_at(next);
    co_await timer.async_wait(asio::use_awaitable);
    max_lag = std::max(max_lag, duration_cast<milliseconds>(steady_clock::now() - next));
  }
}

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  bool processes = false;
  int clients = 4, requests = 4;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--processes"))
      processes = true;
    else if (!std::strcmp(argv[i], "--threads"))
      processes = false;
    else if (!std::strcmp(argv[i], "--clients") && i + 1 < argc)
      clients = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--requests") && i + 1 < argc)
      requests = std::atoi(argv[++i]);
  }
  forkpool::thread_pool thread_workers({.workers = 2});
  forkpool::process_pool process_workers({.workers = 2});
  forkpool::any_executor work(thread_workers);
  if (processes) work.set_executor(process_workers);  // the one line that switches

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  asio::co_spawn(io, accept(acceptor, work), asio::detached);
  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](boost::system::error_code, int) { io.stop(); });

  std::vector<std::pair<long, long>> answers;
  int left = clients;
  bool done = false;
  milliseconds max_lag{0};
  asio::co_spawn(io, ticker(done, max_lag), asio::detached);
  const auto start = steady_clock::now();
  for (int id = 0; id < clients; ++id)
    asio::co_spawn(io, client(acceptor.local_endpoint(), id, requests, answers, left),
                   asio::detached);
  asio::steady_timer watch(io);
  std::function<void()> check_done = [&] {
    if (left == 0) {
      done = true;
      io.stop();
      return;
    }
    watch.expires_after(milliseconds(10));
    watch.async_wait([&](boost::system::error_code ec) {
      if (!ec) check_done();
    });
  };
  check_done();
  io.run();

  const double seconds = duration<double>(steady_clock::now() - start).count();
  int wrong = 0;
  for (const auto& [seed, answer] : answers) wrong += answer != checksum(seed) ? 1 : 0;
  std::printf(
      "handler on %s: %d requests from %d clients in %.2f s, %d wrong, loop lag at most %lld ms\n",
      work.holds_process_pool() ? "processes" : "threads", clients * requests, clients, seconds,
      wrong, static_cast<long long>(max_lag.count()));
  return wrong == 0 && left == 0 && static_cast<int>(answers.size()) == clients * requests ? 0 : 1;
}
