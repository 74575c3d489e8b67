#include "agent.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "encoded_calls.hpp"
#include "forkpool/detail/log_line.hpp"
#include "forkpool/process_pool.hpp"
#include "mpi_link.hpp"
#include "mpi_messages.hpp"
#include "mpi_state.hpp"
#include "wire_exception.hpp"

namespace forkpool::detail {
namespace {

using clock_type = std::chrono::steady_clock;
namespace wire = mpi_wire;

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

class agent {
 public:
  agent(process_pool* fixed, unsigned fixed_workers)
      : fixed_(fixed), fixed_workers_(fixed_workers) {}

  [[noreturn]] void run() {
    for (;;) {
      if (mpi_state::termination_signal() != 0) leave(0, false);  // no pool: nothing to drain
      std::optional<mpi_message> message = link_.try_receive(0);
      link_.progress();
      if (!message) {
        idle_.sleep();
        continue;
      }
      idle_.activity();
      if (message->tag == wire::leave) leave(0, wire::may_finalize(message->bytes));
      if (message->tag != wire::configure) continue;
      if (auto config = decode_message<wire::agent_config>(message->bytes)) serve(*config);
    }
  }

 private:
  // One mpi_pool's life on this host: from its configure to its shutdown.
  void serve(const wire::agent_config& config) {
    heartbeat_ = std::chrono::milliseconds(config.heartbeat_ms);
    host_timeout_ = std::chrono::milliseconds(config.host_timeout_ms);
    link_.accept_up_to(wire::largest_message(config.max_payload_bytes != 0
                                                 ? config.max_payload_bytes
                                                 : pool_options{}.max_payload_bytes));
    wire::agent_hello hello{host_name(), static_cast<std::int32_t>(::getpid()), 0, {}};
    try {
      if (fixed_ != nullptr) {
        pool_ = fixed_;
        hello.workers = fixed_workers_;
      } else {
        pool_ = &owned_.emplace(wire::pool_options_of(config));
        hello.workers = config.workers != 0 ? config.workers
                                            : std::max(std::thread::hardware_concurrency(), 1u);
      }
    } catch (const std::exception& e) {
      hello.error = e.what();
    }
    send(wire::ready, wire::encoded(hello));
    if (pool_ == nullptr) return;
    last_heard_ = clock_type::now();
    shutting_down_ = false;
    while (pool_ != nullptr) {
      bool active = false;
      if (!terminating_ && mpi_state::termination_signal() != 0) begin_leaving();
      while (std::optional<mpi_message> message = link_.try_receive(0)) {
        active |= message->tag != wire::heartbeat;  // a heartbeat starts no exchange
        last_heard_ = clock_type::now();
        handle(*message);
      }
      active |= answer_finished();
      send_replies();
      if (shutting_down_ && jobs_.empty()) {
        owned_.reset();  // its workers exit; nothing runs any more (a fixed pool stays)
        pool_ = nullptr;
        link_.send_in_order(0, wire::bye, {});  // after the replies still in pieces
        if (terminating_) leave(0, false);
        break;
      }
      // A large message moves only while this side calls MPI: no sleeping until it is gone.
      active |= !link_.progress();
      const auto now = clock_type::now();
      if (now - last_sent_ >= heartbeat_) send(wire::heartbeat, {});
      if (now - last_heard_ > host_timeout_) {
        log_line(log_level::error, "forkpool agent: rank 0 went silent; leaving");
        // Nobody is left to take the results: the running calls are stopped, not waited for.
        pool_->shutdown({.wait = true, .cancel_pending = true, .kill_running = true});
        leave(1, false);
      }
      if (active) {
        idle_.activity();
      } else {
        idle_.sleep();
      }
    }
  }

  // SIGTERM or SIGINT (mpiexec forwards them to every rank, then SIGKILLs after a grace): this
  // host finishes the calls it holds and sends their results, takes no more, and leaves.
  void begin_leaving() {
    terminating_ = true;
    log_line(log_level::warning, "forkpool agent: " + std::to_string(jobs_.size()) +
                                     " calls to finish before leaving (SIGTERM or SIGINT)");
    send(wire::leaving, {});
    if (fixed_ == nullptr) pool_->shutdown({.wait = false});
    shutting_down_ = true;
  }

  void handle(mpi_message& message) {
    switch (message.tag) {
      case wire::call:
      case wire::chunk: return take_calls(message);
      case wire::shutdown: {
        const auto request = decode_message<wire::shutdown_request>(message.bytes);
        if (!request) return refuse(0, "a shutdown that does not decode");
        if (fixed_ == nullptr) {
          pool_->shutdown({.wait = false,
                           .cancel_pending = request->cancel_pending,
                           .kill_running = request->kill_running});
        } else if (request->cancel_pending) {  // the pool stays for the next mpi_pool
          for (auto& [id, job] : jobs_) job.cancel();
        }
        shutting_down_ = true;
        return;
      }
      case wire::leave: owned_.reset(); leave(0, wire::may_finalize(message.bytes));
      default: return;  // heartbeat: heard
    }
  }

  // A batch of calls: each decoded one starts; at one that does not decode the rest of the
  // batch cannot be trusted, and is refused by the id it seems to carry.
  void take_calls(mpi_message& message) {
    if (message.cut) {
      const std::span<const std::byte> bytes(message.bytes);
      return refuse(bytes.size() > kLengthPrefix ? wire::id_of(bytes.subspan(kLengthPrefix)) : 0,
                    "a call larger than this agent takes (max_payload_bytes)");
    }
    const wire::batch_view batch = wire::split_batch(message.bytes);
    // A large call travels alone: its arguments are moved, not copied, out of the message.
    if (batch.messages.size() == 1 && batch.torn.empty() &&
        message.bytes.size() > wire::kBatchBytes / 4)
      if (auto call = read_request_in_place(batch.messages.front())) {
        const std::size_t start = kLengthPrefix + call->arguments_offset;
        message.bytes.erase(message.bytes.begin(),
                            message.bytes.begin() + static_cast<std::ptrdiff_t>(start));
        call->fields.arguments = std::move(message.bytes);
        return take_call(std::move(call->fields), message.tag == wire::chunk);
      }
    for (const std::span<const std::byte> call : batch.messages) {
      auto request = decode_message<client_request>(call);
      if (!request) return refuse(wire::id_of(call), "a call that does not decode");
      take_call(std::move(*request), message.tag == wire::chunk);
    }
    if (!batch.torn.empty()) refuse(wire::id_of(batch.torn), "a call cut short");
  }

  void take_call(client_request request, bool chunk) {
    const std::uint64_t id = request.id;
    if (request.kind == client_request::kind_t::stats) {
      master_reply reply;
      reply.kind = master_reply::kind_t::stats;
      reply.id = id;
      reply.stats = pool_->stats();
      return send_reply(reply);
    }
    if (request.kind != client_request::kind_t::submit) return refuse(id, "an unknown request");
    try {
      if (terminating_) throw pool_shut_down();  // sent before rank 0 heard this host is leaving
      future<encoded_result> job = encoded_calls::submit(
          *pool_, std::move(request.task), request.argument_signature, request.result_signature,
          std::move(request.arguments), {kResultReplyHead, kResultReplyTail},
          chunk ? call_kind::map_chunk : call_kind::single);
      jobs_.emplace(id, job);
      job.add_done_callback([this, id] {
        {
          std::lock_guard lock(finished_mutex_);
          finished_.push_back(id);
        }
        idle_.wake();  // sent now, not after the back-off
      });
    } catch (...) {  // pool_shut_down while shutting down
      master_reply reply;
      reply.kind = master_reply::kind_t::error;
      reply.id = id;
      reply.error = to_wire_error(std::current_exception());
      send_reply(reply);
    }
  }

  // Replies for the jobs finished since the last look; true if there were any.
  bool answer_finished() {
    std::vector<std::uint64_t> ids;
    {
      std::lock_guard lock(finished_mutex_);
      ids.swap(finished_);
    }
    for (const std::uint64_t id : ids) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;
      future<encoded_result> job = std::move(it->second);
      jobs_.erase(it);
      if (std::exception_ptr error = job.exception()) {
        master_reply reply;
        reply.kind = master_reply::kind_t::error;
        reply.id = id;
        reply.error = to_wire_error(error);
        send_reply(reply);
      } else {
        byte_buffer message = std::move(job).get().bytes;  // the result, copied once
        frame_result_reply(message, id);
        queue_reply(std::move(message));
      }
    }
    return !ids.empty();
  }

  // A message from rank 0 that does not decode: said, and the agent goes on.
  void refuse(std::uint64_t id, const std::string& why) {
    log_line(log_level::error, "forkpool agent: " + why);
    master_reply reply;
    reply.kind = master_reply::kind_t::error;
    reply.id = id;
    reply.error = {error_code::protocol, "", "agent: " + why};
    send_reply(reply);
  }

  void send_reply(const master_reply& reply) {
    byte_buffer bytes;
    append_message(bytes, reply);
    queue_reply(std::move(bytes));
  }

  // A framed reply joins the batch that goes out at the end of this turn, or goes alone.
  void queue_reply(byte_buffer framed) {
    if (framed.size() > wire::kBatchBytes / 4) return send(wire::reply, std::move(framed));
    if (replies_.size() + framed.size() > wire::kBatchBytes) send_replies();
    replies_.insert(replies_.end(), framed.begin(), framed.end());
  }

  void send_replies() {
    if (replies_.empty()) return;
    send(wire::reply, std::move(replies_));
    replies_ = {};
  }

  void send(int tag, byte_buffer bytes) {
    link_.send(0, tag, std::move(bytes));
    last_sent_ = clock_type::now();
  }

  // Leaves the program. Sends still in flight go first, unless rank 0 went silent. MPI_Finalize
  // can hang once a rank is lost (it waits for every rank): then the process leaves without it.
  [[noreturn]] void leave(int status, bool finalize) {
    const auto give_up = clock_type::now() + host_timeout_;  // rank 0 may be gone
    if (status == 0)
      while (!link_.progress() && clock_type::now() < give_up) idle_.sleep();
    if (!finalize) {
      owned_.reset();  // its workers stop; a fixed pool's go at exit
      std::exit(status);
    }
    MPI_Finalize();
    std::exit(status);
  }

  process_pool* const fixed_;
  const unsigned fixed_workers_;
  mpi_link link_;
  idle_wait idle_;
  std::optional<process_pool> owned_;  ///< the pool an mpi_pool's options made here
  process_pool* pool_ = nullptr;       ///< the pool serving now: owned_'s or fixed_
  std::unordered_map<std::uint64_t, future<encoded_result>> jobs_;
  std::mutex finished_mutex_;
  std::vector<std::uint64_t> finished_;  ///< ids of finished jobs, from the pool's thread
  byte_buffer replies_;                  ///< the batch of replies being filled
  bool shutting_down_ = false;
  bool terminating_ = false;  ///< leaving on SIGTERM or SIGINT
  std::chrono::milliseconds heartbeat_{200};
  std::chrono::milliseconds host_timeout_{5000};
  clock_type::time_point last_heard_ = clock_type::now();
  clock_type::time_point last_sent_ = clock_type::now();
};

}  // namespace

void run_agent(process_pool* fixed, unsigned fixed_workers) {
  mpi_state::outlast_termination();
  agent serving(fixed, fixed_workers);  // run() leaves the program: this frame is never unwound
  serving.run();
}

}  // namespace forkpool::detail
