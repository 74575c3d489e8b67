#include "server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <deque>
#include <unordered_map>

#include "encoded_calls.hpp"
#include "forkpool/detail/client_protocol.hpp"
#include "master_log.hpp"
#include "wire_exception.hpp"

namespace forkpool::daemon {

namespace asio = boost::asio;
using detail::client_request;
using detail::master_reply;

// One client connection. Reads requests one at a time, submits jobs, writes replies in the order
// they complete.
class session : public std::enable_shared_from_this<session> {
 public:
  session(server& owner, asio::local::stream_protocol::socket socket)
      : owner_(owner), socket_(std::move(socket)), message_deadline_(owner.io_) {}

  void start() {
    // Only the same user may use this master's workers (the socket's mode says so too).
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
        peer.uid != ::getuid()) {
      say(log_level::warning, "refused a connection from uid " + std::to_string(peer.uid) +
                                  " (pid " + std::to_string(peer.pid) + "): not this user");
      close();
      return;
    }
    uid_ = peer.uid;
    std::size_t& connections = owner_.connections_per_uid_[uid_];
    if (connections >= owner_.limits_.max_connections_per_uid) {
      say(log_level::warning, "refused a connection from uid " + std::to_string(peer.uid) +
                                  " (pid " + std::to_string(peer.pid) + "): it has " +
                                  std::to_string(connections) + " open, the limit");
      return refuse("too many connections from uid " + std::to_string(uid_) + " (the limit is " +
                    std::to_string(owner_.limits_.max_connections_per_uid) + ")");
    }
    ++connections;
    counted_ = true;
    read_next();
  }

  void stop_reading() { stopped_reading_ = true; }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (counted_ && --owner_.connections_per_uid_[uid_] == 0)
      owner_.connections_per_uid_.erase(uid_);
    message_deadline_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    // Jobs it can no longer receive: cancel those not yet started; running ones finish unseen.
    for (auto& [id, job] : jobs_) job.cancel();
    owner_.sessions_.erase(shared_from_this());
  }

 private:
  void read_next() {
    if (closed_ || stopped_reading_ || reading_) return;
    if (queued_bytes_ > owner_.limits_.max_buffered_reply_bytes || jobs_.size() >= job_allowance())
      return;  // backpressure: resumed as replies are written and jobs complete
    reading_ = true;
    prefix_read_ = 0;
    read_prefix();
  }

  // The length prefix is read piece by piece: its first byte starts the message's deadline, while
  // a connection that sends nothing may stay open as long as it likes.
  void read_prefix() {
    socket_.async_read_some(
        asio::buffer(prefix_.data() + prefix_read_, prefix_.size() - prefix_read_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->close();
          if (self->prefix_read_ == 0) self->arm_message_deadline();
          self->prefix_read_ += n;
          if (self->prefix_read_ < self->prefix_.size()) return self->read_prefix();
          self->on_prefix();
        });
  }

  // A client that starts a message must finish it in time (a slowloris holds a connection, and
  // its buffer, forever otherwise).
  void arm_message_deadline() {
    message_deadline_.expires_after(owner_.limits_.message_timeout);
    message_deadline_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      say(log_level::warning, "closed a connection from uid " + std::to_string(self->uid_) +
                                  " that sent part of a message and did not finish it within " +
                                  std::to_string(self->owner_.limits_.message_timeout.count()) +
                                  " ms");
      self->close();
    });
  }

  void on_prefix() {
    const std::uint32_t length = detail::read_length(prefix_);
    if (length > owner_.limits_.max_message_bytes) {
      return refuse("message of " + std::to_string(length) + " bytes exceeds the maximum of " +
                    std::to_string(owner_.limits_.max_message_bytes));
    }
    payload_.resize(length);
    asio::async_read(socket_, asio::buffer(payload_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->on_payload(ec);
                     });
  }

  void on_payload(boost::system::error_code ec) {
    reading_ = false;
    if (ec) return close();  // a truncated message: the client went away mid-way
    message_deadline_.cancel();
    auto request = detail::decode_message<client_request>(payload_);
    if (!request) return refuse("a request that does not decode");
    payload_.clear();
    handle(std::move(*request));
    read_next();
  }

  // A protocol violation: say why, then hang up (the stream can no longer be trusted).
  void refuse(const std::string& why) {
    reading_ = false;
    message_deadline_.cancel();
    master_reply reply;
    reply.kind = master_reply::kind_t::error;
    reply.error = {detail::error_code::protocol, "", why};
    send(reply);
    closing_after_write_ = true;
  }

  void handle(client_request request) {
    master_reply reply;
    reply.id = request.id;
    switch (request.kind) {
      case client_request::kind_t::submit: return submit(std::move(request));
      case client_request::kind_t::stats:
        reply.kind = master_reply::kind_t::stats;
        reply.stats = owner_.pool_.stats();
        return send(reply);
      case client_request::kind_t::info:
        reply.kind = master_reply::kind_t::info;
        reply.info = owner_.info_;
        return send(reply);
      case client_request::kind_t::restart_workers:
        reply.kind = master_reply::kind_t::restarted;
        try {
          owner_.pool_.restart_workers();
        } catch (...) {
          reply.kind = master_reply::kind_t::error;
          reply.error = detail::to_wire_error(std::current_exception());
        }
        return send(reply);
    }
    refuse("unknown request kind");
  }

  void submit(client_request request) {
    const std::uint64_t id = request.id;
    future<detail::encoded_result> job;
    try {
      // The result comes back with room for its reply around it (see answer()).
      job = detail::encoded_calls::submit(owner_.pool_, std::move(request.task),
                                          request.argument_signature, request.result_signature,
                                          std::move(request.arguments),
                                          {detail::kResultReplyHead, detail::kResultReplyTail});
    } catch (...) {  // pool_shut_down while draining
      master_reply reply;
      reply.kind = master_reply::kind_t::error;
      reply.id = id;
      reply.error = detail::to_wire_error(std::current_exception());
      return send(reply);
    }
    jobs_.emplace(id, job);
    ++owner_.jobs_in_flight_;
    // Completed on the pool's thread; answered on ours.
    job.add_done_callback([weak = weak_from_this(), &io = owner_.io_, &owner = owner_, id] {
      asio::post(io, [weak, &owner, id] {
        --owner.jobs_in_flight_;
        if (auto self = weak.lock()) self->answer(id);
      });
    });
  }

  void answer(std::uint64_t id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    future<detail::encoded_result> job = std::move(it->second);
    jobs_.erase(it);
    if (std::exception_ptr error = job.exception()) {
      master_reply reply;
      reply.id = id;
      reply.kind = master_reply::kind_t::error;
      reply.error = detail::to_wire_error(error);
      send(reply);
    } else {
      // The reply is written around the result where it lies: its bytes are not copied again.
      detail::byte_buffer message = std::move(job).get().bytes;
      detail::frame_result_reply(message, id);
      send(std::move(message));
    }
    read_next();
  }

  // How many jobs this client may have in flight: as many as the reply buffer can hold at the
  // average reply size seen so far (see server_limits).
  std::size_t job_allowance() const {
    const server_limits& limits = owner_.limits_;
    if (replies_ == 0) return limits.initial_jobs_per_client;
    const std::size_t average = std::max<std::size_t>(reply_bytes_ / replies_, 1);
    return std::clamp(limits.max_buffered_reply_bytes / average, limits.initial_jobs_per_client,
                      limits.max_jobs_per_client);
  }

  void send(const master_reply& reply) {
    detail::byte_buffer bytes;
    detail::append_message(bytes, reply);
    send(std::move(bytes));
  }

  /// Sends one length-prefixed message.
  void send(detail::byte_buffer bytes) {
    if (closed_) return;
    ++replies_;
    reply_bytes_ += bytes.size();
    queued_bytes_ += bytes.size();
    outbox_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

  void write_next() {
    if (outbox_.empty()) {
      writing_ = false;
      if (closing_after_write_) close();
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(outbox_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                        if (ec) return self->close();
                        self->queued_bytes_ -= n;
                        self->outbox_.pop_front();
                        self->write_next();
                        self->read_next();
                      });
  }

  server& owner_;
  asio::local::stream_protocol::socket socket_;
  asio::steady_timer message_deadline_;
  uid_t uid_ = 0;
  bool counted_ = false;  ///< counts against connections_per_uid_
  std::array<std::byte, detail::kLengthPrefix> prefix_{};
  std::size_t prefix_read_ = 0;
  detail::byte_buffer payload_;
  std::deque<detail::byte_buffer> outbox_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t replies_ = 0;  ///< replies sent, and their bytes: the average reply size
  std::uint64_t reply_bytes_ = 0;
  std::unordered_map<std::uint64_t, future<detail::encoded_result>> jobs_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool closing_after_write_ = false;
  bool stopped_reading_ = false;
};

namespace {

asio::local::stream_protocol::acceptor listening_at(asio::io_context& io, const std::string& path) {
  const asio::local::stream_protocol::endpoint endpoint(path);
  asio::local::stream_protocol::acceptor acceptor(io);
  acceptor.open(endpoint.protocol());
  acceptor.bind(endpoint);
  acceptor.listen();
  return acceptor;
}

}  // namespace

server::server(asio::io_context& io, process_pool& pool, const std::string& socket_path,
               server_limits limits, master_info info)
    : server(io, pool, listening_at(io, socket_path), limits, std::move(info)) {}

server::server(asio::io_context& io, process_pool& pool, int listening_socket, server_limits limits,
               master_info info)
    : server(io, pool,
             asio::local::stream_protocol::acceptor(io, asio::local::stream_protocol(),
                                                    listening_socket),
             limits, std::move(info)) {}

server::server(asio::io_context& io, process_pool& pool,
               asio::local::stream_protocol::acceptor acceptor, server_limits limits,
               master_info info)
    : io_(io),
      pool_(pool),
      limits_(limits),
      info_(std::move(info)),
      acceptor_(std::move(acceptor)),
      accept_retry_(io) {}

void server::start() { accept(); }

void server::accept() {
  acceptor_.async_accept(
      [this](boost::system::error_code ec, asio::local::stream_protocol::socket socket) {
        if (!accepting_ || ec == asio::error::operation_aborted) return;
        if (ec) return accept_failed(ec);
        if (out_of_descriptors_) {
          say(log_level::info, "accepting connections again");
          out_of_descriptors_ = false;
        }
        auto s = std::make_shared<session>(*this, std::move(socket));
        sessions_.insert(s);
        s->start();
        accept();
      });
}

// A failed accept is an ordinary condition for a server: the client that could not be taken
// waits in the listen queue. Out of descriptors (or memory), try again shortly, once descriptors
// may be free; said once per episode. Anything else (a client gone before it was accepted):
// at once.
void server::accept_failed(const boost::system::error_code& ec) {
  const bool exhausted = ec == asio::error::no_descriptors || ec.value() == ENFILE ||
                         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
  if (!exhausted) return accept();
  if (!out_of_descriptors_) {
    say(log_level::warning, "cannot accept connections: " + ec.message() + "; retrying every " +
                                std::to_string(kAcceptRetry.count()) + " ms");
    out_of_descriptors_ = true;
  }
  accept_retry_.expires_after(kAcceptRetry);
  accept_retry_.async_wait([this](boost::system::error_code e) {
    if (!e && accepting_) accept();
  });
}

void server::stop_accepting() {
  accepting_ = false;
  accept_retry_.cancel();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& s : sessions_) s->stop_reading();
}

void server::close_all() {
  auto all = sessions_;
  for (const auto& s : all) s->close();
}

}  // namespace forkpool::daemon
