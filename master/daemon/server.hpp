// forkpool-master's socket server: accepts clients on a Unix socket and runs their jobs on the
// process pool. Runs on the daemon's io_context (main thread); completions from the pool's thread
// are posted back to it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "forkpool/process_pool.hpp"

namespace forkpool::daemon {

struct server_limits {
  std::uint32_t max_message_bytes = 64u << 20;
  /// A client's replies waiting to be written beyond which its requests are not read (it is not
  /// reading): backpressure, not unbounded memory.
  std::size_t max_buffered_reply_bytes = 16u << 20;
  /// Jobs one client may have running or queued at once before its further requests wait. A
  /// client starts at initial_jobs_per_client; as its replies show their size, its allowance
  /// grows to what max_buffered_reply_bytes can hold (up to this), so that results waiting for a
  /// client stay bounded in bytes whether they are small or large.
  std::size_t max_jobs_per_client = 10'000;
  std::size_t initial_jobs_per_client = 128;
};

class session;

class server {
 public:
  server(boost::asio::io_context& io, process_pool& pool, const std::string& socket_path,
         server_limits limits);
  void start();
  /// Stops accepting and reading new requests; jobs already submitted finish and are answered.
  void stop_accepting();
  /// Jobs submitted and not yet answered, over all clients.
  std::size_t jobs_in_flight() const noexcept { return jobs_in_flight_; }
  /// Closes every connection.
  void close_all();

 private:
  friend class session;
  void accept();

  boost::asio::io_context& io_;
  process_pool& pool_;
  server_limits limits_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::set<std::shared_ptr<session>> sessions_;
  std::size_t jobs_in_flight_ = 0;
  bool accepting_ = true;
};

}  // namespace forkpool::daemon
