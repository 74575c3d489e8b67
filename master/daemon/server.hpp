// forkpool-master's socket server: accepts clients on a Unix socket and runs their jobs on the
// process pool. Runs on the daemon's io_context (main thread); completions from the pool's thread
// are posted back to it.
#pragma once

#include <sys/types.h>
#include <boost/asio/io_context.hpp>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
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
  /// A connection that has sent part of a message must send the rest within this, or it is
  /// closed. A connection that sends nothing is not timed.
  std::chrono::milliseconds message_timeout{30000};
  /// Open connections one uid may hold; one more is refused with an error reply.
  std::size_t max_connections_per_uid = 256;
};

class session;

class server {
 public:
  server(boost::asio::io_context& io, process_pool& pool, const std::string& socket_path,
         server_limits limits, master_info info);
  /// Serves on a socket already listening (socket activation); takes it over.
  server(boost::asio::io_context& io, process_pool& pool, int listening_socket,
         server_limits limits, master_info info);
  void start();
  /// Stops accepting and reading new requests; jobs already submitted finish and are answered.
  void stop_accepting();
  /// Jobs submitted and not yet answered, over all clients.
  std::size_t jobs_in_flight() const noexcept { return jobs_in_flight_; }
  /// Closes every connection.
  void close_all();

 private:
  friend class session;
  server(boost::asio::io_context& io, process_pool& pool,
         boost::asio::local::stream_protocol::acceptor acceptor, server_limits limits,
         master_info info);
  void accept();
  void accept_failed(const boost::system::error_code& ec);
  static constexpr std::chrono::milliseconds kAcceptRetry{50};

  boost::asio::io_context& io_;
  process_pool& pool_;
  server_limits limits_;
  const master_info info_;  ///< what an info request is answered with
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  bool out_of_descriptors_ = false;  ///< said so once; said again when accepting resumes
  std::set<std::shared_ptr<session>> sessions_;
  std::map<uid_t, std::size_t> connections_per_uid_;
  std::size_t jobs_in_flight_ = 0;
  bool accepting_ = true;
};

}  // namespace forkpool::daemon
