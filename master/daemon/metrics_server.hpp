// forkpool-master --metrics HOST:PORT: serves GET /metrics (Prometheus' text format) over HTTP,
// with Boost.Beast, on the daemon's own loop. A slow or garbage client cannot stall it: every
// connection has a deadline, requests are small and bounded, and connections are few.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace forkpool::daemon {

/// "127.0.0.1:9464", "[::1]:9464", ":9464" or "9464" (the host defaults to 127.0.0.1). Throws
/// std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_metrics_address(const std::string& text);

class metrics_server {
 public:
  /// `body` makes the page for each scrape. Throws boost::system::system_error if the address
  /// cannot be listened on.
  metrics_server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& where,
                 std::function<std::string()> body);
  ~metrics_server();
  /// Where it listens (the port chosen when asked for 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();

  struct state;  ///< the acceptor and its scrapes (metrics_server.cpp), which outlive stop()

 private:
  std::shared_ptr<state> state_;
};

}  // namespace forkpool::daemon
