// force_async: a synchronous library function, made awaitable. Each call of the wrapper submits
// the function to a pool and returns an awaitable; several calls run at once and the coroutine
// awaits them all, while its io_context stays free.
//
//   ./force_async
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <forkpool/forkpool.hpp>
#include <string>
#include <thread>

// Stands in for a blocking library call (a legacy client, a compressor, a parser).
std::string fetch_report(int id) {
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  return "report #" + std::to_string(id);
}
FORKPOOL_TASK(fetch_report);

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  forkpool::process_pool pool({.workers = 4});
  auto fetch_report_async = forkpool::force_async(pool, fetch_report);  // the "decorator"

  boost::asio::io_context io;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        // Four calls in flight at once (each submits as it is made), then awaited in order.
        auto a = fetch_report_async(1);
        auto b = fetch_report_async(2);
        auto c = fetch_report_async(3);
        auto d = fetch_report_async(4);
        for (auto* call : {&a, &b, &c, &d})
          std::printf("%s\n", (co_await std::move(*call)).c_str());
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        std::printf("4 calls of 250 ms each took %lld ms together\n",
                    static_cast<long long>(ms.count()));
      },
      boost::asio::detached);
  io.run();
  return 0;
}
