#include "metrics_server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <stdexcept>

namespace forkpool::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

/// A scrape must be sent and answered within this; a client that dawdles is closed.
constexpr auto kDeadline = std::chrono::seconds(5);
/// Scrapes in progress at once; one more connection is closed at once (memory stays bounded).
constexpr std::size_t kMaxConnections = 16;
/// A request's header (there is no body): a scrape's is a few hundred bytes.
constexpr std::size_t kMaxRequestBytes = 8192;

}  // namespace

struct metrics_server::state : std::enable_shared_from_this<metrics_server::state> {
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::function<std::string()> body;
  std::size_t open = 0;
  bool stopped = false;

  state(asio::io_context& io, const tcp::endpoint& where, std::function<std::string()> make_body)
      : acceptor(io), retry(io), body(std::move(make_body)) {
    acceptor.open(where.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(where);
    acceptor.listen();
  }

  void accept();
};

namespace {

class scrape : public std::enable_shared_from_this<scrape> {
 public:
  scrape(std::shared_ptr<metrics_server::state> owner, tcp::socket socket)
      : owner_(std::move(owner)), stream_(std::move(socket)) {
    ++owner_->open;
  }
  ~scrape() { --owner_->open; }

  void start() {
    parser_.header_limit(kMaxRequestBytes);
    stream_.expires_after(kDeadline);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

 private:
  void on_request(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted)
      return;  // gone, or too slow: closed without a word
    if (ec) return respond(http::status::bad_request, "bad request: " + ec.message() + "\n");
    const auto& request = parser_.get();
    if (request.method() != http::verb::get) {
      response_.set(http::field::allow, "GET");
      return respond(http::status::method_not_allowed, "only GET\n");
    }
    if (request.target() != "/metrics") return respond(http::status::not_found, "see /metrics\n");
    response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    respond(http::status::ok, owner_->body());
  }

  void respond(http::status status, std::string body) {
    response_.result(status);
    response_.version(11);
    response_.keep_alive(false);  // one scrape per connection
    if (response_.find(http::field::content_type) == response_.end())
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
    response_.body() = std::move(body);
    response_.prepare_payload();
    stream_.expires_after(kDeadline);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
  }

  std::shared_ptr<metrics_server::state> owner_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kMaxRequestBytes};
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

void metrics_server::state::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped || ec == asio::error::operation_aborted) return;
    if (ec) {  // out of descriptors, most likely: try again shortly, not in a loop
      self->retry.expires_after(std::chrono::milliseconds(50));
      self->retry.async_wait([self](beast::error_code e) {
        if (!e && !self->stopped) self->accept();
      });
      return;
    }
    if (self->open < kMaxConnections) std::make_shared<scrape>(self, std::move(socket))->start();
    self->accept();  // a connection beyond the bound is closed as `socket` leaves scope
  });
}

tcp::endpoint parse_metrics_address(const std::string& text) {
  std::string host = "127.0.0.1", port = text;
  if (const std::size_t colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "127.0.0.1";
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    throw std::invalid_argument("--metrics: '" + text +
                                "' needs a port (HOST:PORT, e.g. 127.0.0.1:9464)");
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec)
    throw std::invalid_argument("--metrics: '" + host +
                                "' is not an IP address (HOST:PORT, e.g. 127.0.0.1:9464)");
  return {address, static_cast<unsigned short>(std::stoul(port))};
}

metrics_server::metrics_server(asio::io_context& io, const tcp::endpoint& where,
                               std::function<std::string()> body)
    : state_(std::make_shared<state>(io, where, std::move(body))) {
  state_->accept();
}

metrics_server::~metrics_server() { stop(); }

tcp::endpoint metrics_server::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void metrics_server::stop() {
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
}

}  // namespace forkpool::daemon
