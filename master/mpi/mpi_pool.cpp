// Rank 0's side of an mpi_pool: one thread (the only one that calls MPI while the pool exists)
// sends waiting calls to the hosts with credits to spare, completes futures from the replies,
// exchanges heartbeats and gives up on hosts that stop answering.
#include <mpi.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "forkpool/detail/log_line.hpp"
#include "forkpool/mpi.hpp"
#include "mpi_link.hpp"
#include "mpi_messages.hpp"
#include "mpi_state.hpp"
#include "mpi_testing.hpp"
#include "pool_link.hpp"
#include "task_engine.hpp"
#include "wire_exception.hpp"

namespace forkpool {

host_lost::host_lost(const std::string& message, int rank, std::string host)
    : error(message), rank_(rank), host_(std::move(host)) {}

namespace detail::mpi_testing {
std::atomic<bool> corrupt_next_call{false};
std::atomic<bool> oversize_next_call{false};
}  // namespace detail::mpi_testing

namespace detail::mpi_state {
namespace {
std::mutex state_mutex;
std::set<int> lost_ranks;
bool pool_exists = false;
}  // namespace

void mark_lost(int rank) {
  std::lock_guard lock(state_mutex);
  lost_ranks.insert(rank);
}
bool rank_lost(int rank) {
  std::lock_guard lock(state_mutex);
  return lost_ranks.count(rank) != 0;
}
bool any_rank_lost() {
  std::lock_guard lock(state_mutex);
  return !lost_ranks.empty();
}
bool claim_pool() {
  std::lock_guard lock(state_mutex);
  if (pool_exists) return false;
  pool_exists = true;
  return true;
}
void release_pool() {
  std::lock_guard lock(state_mutex);
  pool_exists = false;
}
}  // namespace detail::mpi_state

namespace {

using clock_type = std::chrono::steady_clock;
namespace wire = detail::mpi_wire;
using task_ptr = std::shared_ptr<detail::task_state>;

// A host's credits unless the options say: enough calls in flight to cover a round trip (~50 µs)
// at a host's pace for short calls (~3 µs each per worker), so a host is not left idle between
// batches (a no-op burst: ~75k/s at 8 per worker, ~100k/s at 16, bench/mpi_workloads); few
// enough that most of a large batch waits on rank 0, where cancel() is exact and any host can
// take it.
constexpr unsigned kCreditsPerWorker = 16;

}  // namespace

struct mpi_pool::impl {
  /// One agent, as rank 0 sees it.
  struct host {
    int rank = 0;
    std::string name;
    int pid = 0;
    unsigned credits = 0;  ///< calls it may hold at once
    bool lost = false;
    bool leaving = false;  ///< said it takes no more calls (SIGTERM on its host)
    bool said_bye = false;
    std::unordered_map<std::uint64_t, task_ptr> held;  ///< its calls in flight, by id
    clock_type::time_point last_heard = clock_type::now();
    pool_stats stats;
    bool stats_fresh = false;

    unsigned free_credits() const {
      return lost || leaving || said_bye ? 0 : credits - std::min<unsigned>(credits, held.size());
    }
  };

  mpi_pool_options options;
  std::shared_ptr<detail::pool_link> link = std::make_shared<detail::pool_link>();
  std::vector<host> hosts;
  detail::mpi_link mpi;
  detail::idle_wait idle;

  // Between the user's threads and the pool's thread.
  std::mutex mutex;
  std::deque<task_ptr> incoming;
  std::optional<shutdown_options> shutdown_asked;
  bool stats_wanted = false;
  std::uint64_t stats_rounds = 0;  ///< stats rounds completed
  cluster_stats last_stats;
  bool finished = false;
  std::condition_variable changed;
  std::atomic<bool> claimed{true};  ///< holds the one-pool-at-a-time claim (mpi_state)

  /// Gives the claim back once the pool has stopped: a new pool may then start.
  void release_claim() {
    if (claimed.exchange(false)) detail::mpi_state::release_pool();
  }

  // The pool's thread only.
  std::deque<task_ptr> pending;
  bool shutdown_sent = false;
  bool cancelled_pending = false;
  std::optional<clock_type::time_point> stats_deadline;
  clock_type::time_point last_heartbeat = clock_type::now();
  std::thread thread;

  // ---- the pool's thread ----

  void run() {
    detail::mpi_state::set_pool_serving(true);
    int terminating = 0;  // the signal being drained for
    for (;;) {
      std::optional<shutdown_options> shutdown;
      bool want_stats = false;
      if (terminating == 0 && (terminating = detail::mpi_state::termination_signal()) != 0)
        drain_for(terminating);
      {
        std::lock_guard lock(mutex);
        for (auto& task : incoming) pending.push_back(std::move(task));
        incoming.clear();
        shutdown = shutdown_asked;
        want_stats = stats_wanted;
      }
      bool active = false;
      if (shutdown && (shutdown->cancel_pending || shutdown->kill_running) && !cancelled_pending) {
        for (auto& task : pending) task->cancel();
        pending.clear();
        cancelled_pending = true;
      }
      active |= dispatch();
      active |= receive();
      // A large message moves only while this side calls MPI: no sleeping until it is gone.
      active |= !mpi.progress();
      const auto now = clock_type::now();
      keep_in_touch(now);
      if (want_stats) gather_stats(now);
      if (shutdown && pending.empty() && !shutdown_sent) {
        const auto request = wire::encoded(wire::shutdown_request{
            shutdown->cancel_pending || shutdown->kill_running, shutdown->kill_running});
        for (host& h : hosts)
          if (!h.lost && !h.said_bye)
            mpi.send_in_order(h.rank, wire::shutdown, request);  // after the calls
        shutdown_sent = true;
      }
      if (shutdown_sent && std::all_of(hosts.begin(), hosts.end(),
                                       [](const host& h) { return h.lost || h.said_bye; })) {
        finish();
        detail::mpi_state::set_pool_serving(false);
        if (terminating != 0) detail::mpi_state::end_by(terminating);
        return;
      }
      if (active) {
        idle.activity();
      } else {
        idle.sleep(next_deadline());
      }
    }
  }

  // When a host not heard from would be lost: a sleep must not run past it.
  clock_type::time_point next_deadline() const {
    auto deadline = clock_type::time_point::max();
    for (const host& h : hosts)
      if (!h.lost && !h.said_bye)
        deadline = std::min(deadline, h.last_heard + options.host_timeout);
    return deadline;
  }

  // SIGTERM or SIGINT: no new calls, the waiting ones cancelled, the ones in flight finish; then
  // the program ends by that signal (end_by).
  void drain_for(int signal) {
    std::size_t in_flight = 0;
    for (const host& h : hosts) in_flight += h.held.size();
    detail::log_line(log_level::warning,
                     std::string("forkpool::mpi_pool: ") +
                         (signal == SIGINT ? "SIGINT" : "SIGTERM") + ": draining (" +
                         std::to_string(in_flight) +
                         " calls in flight finish, waiting calls are cancelled), then exiting");
    std::lock_guard lock(mutex);
    if (!shutdown_asked) shutdown_asked = shutdown_options{};
    shutdown_asked->cancel_pending = true;
  }

  // Sends what waits to the hosts with the most credits to spare, several calls to one message
  // where a host can take several; true if it sent any.
  bool dispatch() {
    bool sent = false;
    while (!pending.empty()) {
      host* best = nullptr;
      std::size_t with_credits = 0;
      for (host& h : hosts) {
        if (h.free_credits() == 0) continue;
        ++with_credits;
        if (best == nullptr || h.free_credits() > best->free_credits()) best = &h;
      }
      if (best == nullptr) break;
      // Its share of what waits, so that a few calls spread over the hosts rather than all
      // going to the first.
      const std::size_t share = (pending.size() + with_credits - 1) / with_credits;
      sent |= send_batch(*best, std::min<std::size_t>(best->free_credits(), share));
    }
    if (!pending.empty() && std::none_of(hosts.begin(), hosts.end(), [](const host& h) {
          return !h.lost && !h.leaving && !h.said_bye;
        })) {
      const auto error = std::make_exception_ptr(
          broken_pool("forkpool::mpi_pool: every host is lost or has left; no call can run"));
      for (auto& task : pending) task->fail(error);
      pending.clear();
    }
    return sent;
  }

  // The request a call travels as, all but its arguments.
  static detail::client_request request_for(const detail::task_state& task) {
    detail::client_request request;
    request.kind = detail::client_request::kind_t::submit;
    request.id = task.id;
    request.task = task.name;
    request.argument_signature = task.argument_signature;
    request.result_signature = task.result_signature;
    return request;
  }

  static int tag_for(detail::call_kind kind) noexcept {
    return kind == detail::call_kind::map_chunk ? wire::chunk : wire::call;
  }

  // A large call travels alone, its arguments not copied: the head of its message, then them.
  // Its arguments are moved out: a call is sent once, and one lost with its host is not resent.
  void send_alone(host& to, task_ptr task) {
    detail::byte_buffer arguments = task->arguments.take();
    detail::byte_buffer head = detail::frame_request_head(request_for(*task), arguments.size());
    const int tag = tag_for(task->kind);
    to.held.emplace(task->id, std::move(task));
    mpi.send(to.rank, tag, std::move(head), std::move(arguments));
  }

  // Up to `count` waiting calls of one kind to `to`, in one message; true if it sent one.
  bool send_batch(host& to, std::size_t count) {
    detail::byte_buffer batch;
    const detail::call_kind kind = pending.front()->kind;
    while (count > 0 && !pending.empty() && pending.front()->kind == kind &&
           batch.size() < wire::kBatchBytes) {
      const bool large = pending.front()->arguments.size() > wire::kBatchBytes / 4;
      if (large && !batch.empty()) break;  // it goes alone, next
      task_ptr task = std::move(pending.front());
      pending.pop_front();
      if (task->arguments.size() > options.pool.max_payload_bytes) {
        task->fail(std::make_exception_ptr(bad_arguments(
            "the call to '" + task->name + "' (" + std::to_string(task->arguments.size()) +
            " bytes of arguments) is larger than the pool's max_payload_bytes (" +
            std::to_string(options.pool.max_payload_bytes) + ")")));
        continue;
      }
      if (!detail::task_engine::start_on_thread(*task)) continue;  // cancelled while it waited
      if (large) {
        send_alone(to, std::move(task));
        return true;
      }
      detail::client_request request = request_for(*task);
      request.arguments = task->arguments.take();  // sent once: a lost call is not resent
      detail::append_message(batch, request);
      to.held.emplace(task->id, std::move(task));
      --count;
    }
    if (batch.empty()) return false;
    if (detail::mpi_testing::corrupt_next_call.exchange(false)) batch.resize(batch.size() / 2);
    if (detail::mpi_testing::oversize_next_call.exchange(false))
      batch.resize(wire::largest_message(options.pool.max_payload_bytes) + 1);
    mpi.send(to.rank, tag_for(kind), std::move(batch));
    return true;
  }

  host* host_of(int rank) {
    for (host& h : hosts)
      if (h.rank == rank) return &h;
    return nullptr;
  }

  // Reads what the agents sent; true if anything but a heartbeat came.
  bool receive() {
    bool any = false;
    while (std::optional<detail::mpi_message> message = mpi.try_receive()) {
      any |= message->tag != wire::heartbeat;
      host* from = host_of(message->source);
      if (from == nullptr || from->lost) continue;
      from->last_heard = clock_type::now();
      if (message->tag == wire::bye) from->said_bye = true;
      if (message->tag == wire::leaving) from->leaving = true;
      if (message->tag != wire::reply) continue;
      if (message->cut) {  // larger than any reply can be: only its call can be told
        fail_undecodable(*from,
                         std::span<const std::byte>(message->bytes)
                             .subspan(std::min(message->bytes.size(), detail::kLengthPrefix)));
      } else {
        take_replies(*from, message->bytes);
      }
    }
    return any;
  }

  void take_replies(host& from, std::span<const std::byte> batch) {
    const wire::batch_view replies = wire::split_batch(batch);
    for (const std::span<const std::byte> reply : replies.messages) take_reply(from, reply);
    if (!replies.torn.empty()) fail_undecodable(from, replies.torn);
  }

  // A reply that does not decode fails the call it names, if it names one.
  void fail_undecodable(host& from, std::span<const std::byte> reply) {
    const std::string why =
        "rank " + std::to_string(from.rank) + " sent a reply that does not decode";
    detail::log_line(log_level::error, "forkpool::mpi_pool: " + why);
    if (auto it = from.held.find(wire::id_of(reply)); it != from.held.end()) {
      it->second->fail(std::make_exception_ptr(protocol_error("forkpool::mpi_pool: " + why)));
      from.held.erase(it);
    }
  }

  void take_reply(host& from, std::span<const std::byte> bytes) {
    // A result is decoded from the bytes as they arrived; it is most of a large reply.
    if (const std::optional<wire::result_in_place> result = wire::read_result_reply(bytes)) {
      if (auto it = from.held.find(result->id); it != from.held.end()) {
        task_ptr task = std::move(it->second);
        from.held.erase(it);
        detail::task_engine::succeed_from(*task, result->result);
      }
      return;
    }
    std::optional<detail::master_reply> reply = detail::decode_message<detail::master_reply>(bytes);
    if (!reply) return fail_undecodable(from, bytes);
    if (reply->kind == detail::master_reply::kind_t::stats) {
      from.stats = std::move(reply->stats);
      from.stats_fresh = true;
      return;
    }
    auto it = from.held.find(reply->id);
    if (it == from.held.end()) {
      if (reply->kind == detail::master_reply::kind_t::error)
        detail::log_line(log_level::error, "forkpool::mpi_pool: rank " + std::to_string(from.rank) +
                                               " refused a message: " + reply->error.message);
      return;
    }
    task_ptr task = std::move(it->second);
    from.held.erase(it);
    task->fail(detail::to_exception(std::move(reply->error), *task));
  }

  // Heartbeats out, and hosts not heard from for host_timeout given up.
  void keep_in_touch(clock_type::time_point now) {
    if (now - last_heartbeat >= options.heartbeat) {
      for (host& h : hosts)
        if (!h.lost && !h.said_bye) mpi.send(h.rank, wire::heartbeat, {});
      last_heartbeat = now;
    }
    for (host& h : hosts)
      if (!h.lost && !h.said_bye && now - h.last_heard >= options.host_timeout) lose(h);
  }

  void lose(host& h) {
    h.lost = true;
    detail::mpi_state::mark_lost(h.rank);
    mpi.abandon(h.rank);
    detail::log_line(log_level::warning,
                     "forkpool::mpi_pool: rank " + std::to_string(h.rank) + " (" + h.name +
                         ", pid " + std::to_string(h.pid) + ") did not answer for " +
                         std::to_string(options.host_timeout.count()) + " ms; " +
                         std::to_string(h.held.size()) + " of its calls fail with host_lost");
    for (auto& [id, task] : h.held)
      task->fail(std::make_exception_ptr(host_lost("task '" + task->name +
                                                       "' was lost with its host, rank " +
                                                       std::to_string(h.rank) + " (" + h.name + ")",
                                                   h.rank, h.name)));
    h.held.clear();
  }

  // One stats round: every live host asked, then answered or given up on.
  void gather_stats(clock_type::time_point now) {
    if (!stats_deadline) {
      detail::client_request request;
      request.kind = detail::client_request::kind_t::stats;
      detail::byte_buffer bytes;
      detail::append_message(bytes, request);
      for (host& h : hosts) {
        h.stats_fresh = false;
        if (!h.lost && !h.said_bye) mpi.send(h.rank, wire::call, bytes);
      }
      stats_deadline = now + options.host_timeout;
      return;
    }
    const bool all_in = std::all_of(hosts.begin(), hosts.end(), [](const host& h) {
      return h.lost || h.said_bye || h.stats_fresh;
    });
    if (!all_in && now < *stats_deadline) return;
    stats_deadline.reset();
    cluster_stats s = snapshot();
    {
      std::lock_guard lock(mutex);
      last_stats = std::move(s);
      ++stats_rounds;
      stats_wanted = false;
    }
    changed.notify_all();
  }

  cluster_stats snapshot() const {
    cluster_stats s;
    s.total.submitted = link->submitted.load();
    s.total.completed = link->completed.load();
    s.total.failed = link->failed.load();
    s.total.cancelled = link->cancelled.load();
    const std::uint64_t finished_calls = s.total.completed + s.total.failed + s.total.cancelled;
    s.total.queue_depth =
        s.total.submitted > finished_calls ? s.total.submitted - finished_calls : 0;
    for (const host& h : hosts) {
      s.hosts.push_back({h.rank, h.name, h.pid, h.lost, h.stats});
      if (h.lost) continue;
      s.total.workers_alive += h.stats.workers_alive;
      s.total.workers_retiring += h.stats.workers_retiring;
      s.total.restarts_task_count += h.stats.restarts_task_count;
      s.total.restarts_memory += h.stats.restarts_memory;
      s.total.restarts_timeout += h.stats.restarts_timeout;
      s.total.restarts_crash += h.stats.restarts_crash;
      s.total.restarts_requested += h.stats.restarts_requested;
      s.total.initializer_failures += h.stats.initializer_failures;
      s.total.retries += h.stats.retries;
      s.total.result_bytes_read_in_place += h.stats.result_bytes_read_in_place;
      s.total.per_worker.insert(s.total.per_worker.end(), h.stats.per_worker.begin(),
                                h.stats.per_worker.end());
    }
    return s;
  }

  void finish() {
    for (host& h : hosts) {
      const auto error = std::make_exception_ptr(protocol_error(
          "forkpool::mpi_pool: rank " + std::to_string(h.rank) + " shut down without answering"));
      for (auto& [id, task] : h.held) task->fail(error);
      h.held.clear();
    }
    const auto give_up = clock_type::now() + options.host_timeout;
    while (!mpi.progress() && clock_type::now() < give_up) idle.sleep();
    cluster_stats s = snapshot();
    {
      std::lock_guard lock(mutex);
      last_stats = std::move(s);
      finished = true;
      stats_wanted = false;
    }
    changed.notify_all();
  }

  // ---- construction, on the caller's thread (before the pool's thread exists) ----

  void start_agents() {
    const int size = mpi::size();
    const auto bytes = wire::encoded(wire::config_for(options));
    std::vector<int> waiting;
    for (int rank = 1; rank < size; ++rank) {
      if (detail::mpi_state::rank_lost(rank)) continue;
      mpi.send(rank, wire::configure, bytes);
      waiting.push_back(rank);
    }
    const auto give_up = clock_type::now() + options.host_timeout;
    while (!waiting.empty() && clock_type::now() < give_up) {
      std::optional<detail::mpi_message> message = mpi.try_receive();
      mpi.progress();
      if (!message) {
        idle.sleep();
        continue;
      }
      idle.activity();
      const auto at = std::find(waiting.begin(), waiting.end(), message->source);
      std::optional<wire::agent_hello> hello;
      if (message->tag == wire::ready && at != waiting.end())
        hello = detail::decode_message<wire::agent_hello>(message->bytes);
      if (!hello) continue;  // a heartbeat of an agent still finishing an earlier pool: not yet
      waiting.erase(at);
      if (!hello->error.empty()) {
        detail::log_line(log_level::error, "forkpool::mpi_pool: rank " +
                                               std::to_string(message->source) +
                                               " could not start its pool: " + hello->error);
        continue;
      }
      host h;
      h.rank = message->source;
      h.name = hello->host;
      h.pid = hello->pid;
      const unsigned workers = std::max(hello->workers, 1u);
      h.credits =
          options.credits_per_host != 0 ? options.credits_per_host : kCreditsPerWorker * workers;
      h.stats.workers_alive = workers;
      hosts.push_back(std::move(h));
    }
    for (const int rank : waiting) {
      detail::log_line(log_level::error, "forkpool::mpi_pool: rank " + std::to_string(rank) +
                                             " did not start a pool within host_timeout");
      detail::mpi_state::mark_lost(rank);
      mpi.abandon(rank);
    }
    std::sort(hosts.begin(), hosts.end(),
              [](const host& a, const host& b) { return a.rank < b.rank; });
  }
};

mpi_pool::mpi_pool(mpi_pool_options options) : impl_(std::make_unique<impl>()) {
  if (mpi::rank() != 0)
    throw std::logic_error(
        "forkpool::mpi_pool: made on rank 0 only, after forkpool::mpi::init(argc, argv)");
  if (options.heartbeat.count() <= 0 || options.host_timeout <= options.heartbeat)
    throw std::invalid_argument(
        "forkpool::mpi_pool: heartbeat must be positive and host_timeout longer than it");
  if (options.pool.start == start_method::fork)
    throw std::invalid_argument(
        "forkpool::mpi_pool: pool.start must not be start_method::fork: an agent is an MPI "
        "process with threads of MPI's own, which a fork would copy mid-flight; use forkserver "
        "or spawn");
  if (mpi::size() < 2)
    throw broken_pool(
        "forkpool::mpi_pool: no agent to send calls to: run the program with "
        "mpiexec -n 2 or more");
  if (!detail::mpi_state::claim_pool())
    throw std::logic_error("forkpool::mpi_pool: one mpi_pool at a time");
  impl_->options = std::move(options);
  impl_->mpi.accept_up_to(wire::largest_message(impl_->options.pool.max_payload_bytes));
  // Open MPI ends the whole job when one rank dies, unless told otherwise.
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    const char* recovery = std::getenv("OMPI_MCA_orte_enable_recovery");
    if (recovery == nullptr || std::string(recovery) != "1")
      detail::log_line(log_level::warning,
                       "forkpool::mpi_pool: Open MPI ends the whole job when a host is lost; "
                       "launch with `mpiexec --enable-recovery` for the pool to serve on");
  }
  try {
    impl_->start_agents();
  } catch (...) {
    detail::mpi_state::release_pool();
    throw;
  }
  if (impl_->hosts.empty()) {
    detail::mpi_state::release_pool();
    throw broken_pool("forkpool::mpi_pool: no agent started a pool");
  }
  impl_->thread = std::thread([this] { impl_->run(); });
}

mpi_pool::~mpi_pool() {
  shutdown({.wait = true});
  impl_->release_claim();
}

void mpi_pool::enqueue(std::shared_ptr<detail::task_state> task) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->shutdown_asked) throw pool_shut_down();
    task->id = impl_->link->submitted.fetch_add(1, std::memory_order_relaxed) + 1;
    impl_->incoming.push_back(std::move(task));
  }
  impl_->idle.wake();
}

void mpi_pool::shutdown(shutdown_options options) {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->shutdown_asked) {
      impl_->shutdown_asked = options;
    } else {
      impl_->shutdown_asked->cancel_pending |= options.cancel_pending;
      impl_->shutdown_asked->kill_running |= options.kill_running;
    }
  }
  impl_->idle.wake();
  if (!options.wait) return;
  {
    std::unique_lock lock(impl_->mutex);
    impl_->changed.wait(lock, [&] { return impl_->finished; });
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->release_claim();  // the agents are back to waiting for a pool
}

cluster_stats mpi_pool::stats() const {
  std::unique_lock lock(impl_->mutex);
  if (impl_->finished) return impl_->last_stats;
  const std::uint64_t round = impl_->stats_rounds;
  impl_->stats_wanted = true;
  lock.unlock();
  impl_->idle.wake();
  lock.lock();
  impl_->changed.wait(lock, [&] { return impl_->stats_rounds > round || impl_->finished; });
  return impl_->last_stats;
}

std::size_t mpi_pool::default_window() const noexcept {
  std::size_t credits = 0;
  for (const auto& h : impl_->hosts) credits += h.credits;  // fixed once the pool has started
  return std::max<std::size_t>(credits, 1);
}

unsigned mpi_pool::hosts() const noexcept { return static_cast<unsigned>(impl_->hosts.size()); }

const std::shared_ptr<detail::pool_link>& mpi_pool::link() const noexcept { return impl_->link; }

}  // namespace forkpool
