#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "forkpool/detail/spin.hpp"
#include "forkpool/errors.hpp"
#include "pool_core.hpp"
#include "scheduler.hpp"
#include "shared_area.hpp"
#include "task_engine.hpp"
#include "wire_exception.hpp"
#include "worker_messages.hpp"

namespace forkpool::detail {
namespace {

// Calls queued in one worker's ring at once: every slot, so a burst of short calls keeps a
// worker busy between the master's wake-ups (16 measured 0.43-0.60M no-ops/s on 2 CPUs, 64
// 0.69-0.95M, bench/roundtrip alternating); idle workers take back the excess (see
// steal_for_idle_workers), and cancel() takes back a call that has not started.
constexpr std::uint32_t kDepth = 64;

// Short calls go to no more busy workers than the CPUs: on 2 CPUs, 100,000 no-ops on 16 workers
// ran at 0.20-0.27M/s spread over all 16 (each one woken, drained and asleep again, taking CPU
// from the master) and at 0.40-0.58M/s kept to 2 (bench/roundtrip --workers 16 --batch 100000,
// FORKPOOL_SPREAD_AFTER_US=0 and the default alternating, 3 rounds). A busy worker that has
// finished no call for this long is taken to hold a long or blocking call, and calls spread to
// every worker again. At 2 ms a worker merely waiting for a CPU in a burst passed for stalled
// often enough to cost a third of the gain (0.40-0.54M/s against 0.46-0.57M/s never spreading;
// 10 ms: 0.52-0.61M/s).
constexpr std::chrono::milliseconds kSpreadAfter{10};

std::chrono::steady_clock::duration spread_delay() {
  if (const char* value = std::getenv("FORKPOOL_SPREAD_AFTER_US");
      value != nullptr && *value != '\0') {
    char* end = nullptr;
    const long long us = std::strtoll(value, &end, 10);
    if (*end == '\0' && us >= 0) return std::chrono::microseconds(us);
    // a malformed value keeps the default
  }
  return kSpreadAfter;
}

}  // namespace

scheduler::scheduler(pool_core& pool)
    : pool_(pool),
      depth_(kDepth),
      ring_capacity_(master_channel::ring_capacity_for(pool.options_.ring_bytes)),
      cpus_(usable_cpus()),
      spread_after_(spread_delay()),
      spread_timer_(pool.io_) {}

void scheduler::dispatch() {
  if (pool_.phase() == pool_phase::stopped) return;
  if (!pool_.supervisor_.broken().empty()) {
    pool_.supervisor_.fail_everything(pool_.supervisor_.broken());
    return;
  }
  // One pass over the workers: which can take a call, and which hold calls. The calls then go
  // to those candidates only, so a call costs no scan of every worker (with 16 workers on 2 CPUs
  // that scan was most of the master's instructions per call, bench/callgrind_noop).
  const std::uint64_t max_tasks = pool_.options_.max_tasks_per_worker;
  const auto has_room = [&](const worker_record& worker) {
    return worker.state == worker_record::phase::running && !worker.ring_full &&
           worker.occupied() < depth_ &&
           // A worker with a task budget gets no more calls than it will run.
           (max_tasks == 0 ||
            worker.tasks_run.load(std::memory_order_relaxed) + worker.occupied() < max_tasks);
  };
  candidates_.clear();
  holders_.clear();
  written_.clear();
  bool idle_candidate = false;
  for (auto& worker : pool_.workers_) {
    if (holds_calls(*worker)) holders_.push_back(worker.get());
    if (!has_room(*worker)) continue;
    candidates_.push_back(worker.get());
    idle_candidate |= worker->occupied() == 0;
  }
  gate_known_ = false;
  bool held_back = false;  // an idle worker was passed over
  // Whether the idle candidates were weighed against the busy workers since the last one of them
  // became busy: they are dropped while they may not take calls (idle_worker_may_take_calls).
  bool idle_weighed = !idle_candidate;
  while (!pending_.empty() && !candidates_.empty()) {
    if (!idle_weighed) {
      idle_weighed = true;
      if (!idle_worker_may_take_calls()) {
        held_back = true;
        std::erase_if(candidates_, [](const worker_record* w) { return w->occupied() == 0; });
      }
    }
    const bool bulk = needs_bulk(*pending_.front());
    std::size_t best = candidates_.size();
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
      if (bulk && candidates_[i]->calls.bulk_held()) continue;
      if (best == candidates_.size() || candidates_[i]->occupied() < candidates_[best]->occupied())
        best = i;
    }
    if (best == candidates_.size()) break;
    worker_record& worker = *candidates_[best];
    std::shared_ptr<task_state> task = pending_.take_front();
    if (task->done()) continue;  // cancelled while it waited
    const bool was_idle = worker.occupied() == 0;
    // On a full ring the call goes back to the queue.
    if (send_call(worker, task) && !worker.written) {
      worker.written = true;
      written_.push_back(&worker);
    }
    if (was_idle && worker.occupied() != 0) {
      worker.progress_at = std::chrono::steady_clock::now();
      worker.requests_read = worker.channel->requests_out().consumer_position();
      holders_.push_back(&worker);
      ++busy_;
      idle_weighed = false;  // one more busy worker: may the others still take calls?
    }
    if (!has_room(worker))
      candidates_.erase(candidates_.begin() + static_cast<std::ptrdiff_t>(best));
  }
  // Calls that went to a busy worker instead wait behind its running one: if that one blocks,
  // they are taken back from it (spread_from_stalled_workers).
  if (held_back) look_again_after_spread_delay();
  // A worker that spins for its next call while this thread and the workers with calls already
  // fill the CPUs takes one of theirs (a burst ran at 0.69-0.83x of not spinning at all): such
  // workers are asked to sleep at once instead. Counted as the calls go out, applied from the
  // next dispatch on (to every worker when the answer changed, else to those just written), so
  // that this loop stays the only one.
  if (crowded_ != crowded_told_) {
    crowded_told_ = crowded_;
    for (auto& worker : pool_.workers_)
      if (worker->state != worker_record::phase::exited)
        worker->channel->requests_out().ask_consumer_not_to_spin(crowded_);
  }
  for (worker_record* worker : written_) {
    worker->written = false;
    ring_producer& requests = worker->channel->requests_out();
    requests.ask_consumer_not_to_spin(crowded_);
    requests.publish();
  }
  crowded_ = holders_.size() + 1 > cpus_;
  if (pool_.phase() < pool_phase::draining) return;
  if (pool_.on_pool_thread()) {
    pool_.finish_shutdown();
  } else if (!finish_posted_) {
    finish_posted_ = true;  // it stops the launcher: on the pool's thread
    pool_.post_locked([this] {
      finish_posted_ = false;
      pool_.finish_shutdown();
    });
  }
}

bool scheduler::holds_calls(const worker_record& worker) {
  return worker.state != worker_record::phase::exited && worker.occupied() != 0;
}

// Not while the workers holding calls already fill the CPUs and each has answered within
// spread_after_: a short call is sooner run by one of them than by a worker that must first be
// woken and take a CPU from them and the master. Weighs holders_, which the caller has just
// collected; computed once a dispatch.
bool scheduler::idle_worker_may_take_calls() {
  if (pool_.workers_.size() <= cpus_) return true;  // the busy ones cannot fill the CPUs
  if (!gate_known_) {
    gate_known_ = true;
    gate_open_ = false;
    busy_ = 0;
    const auto now = std::chrono::steady_clock::now();
    for (worker_record* worker : holders_) {
      if (stalled(*worker, now)) {
        gate_open_ = true;
        break;
      }
      ++busy_;
    }
  }
  return gate_open_ || busy_ < cpus_;
}

// Whether the worker, which holds calls, has finished none for spread_after_. Judged by its
// request ring, not by the replies read: in a burst the master may be the one that falls behind.
bool scheduler::stalled(worker_record& worker, std::chrono::steady_clock::time_point now) {
  const std::uint64_t read = worker.channel->requests_out().consumer_position();
  if (read != worker.requests_read) {
    worker.requests_read = read;
    worker.progress_at = now;
    return false;
  }
  return now - worker.progress_at > spread_after_;
}

void scheduler::look_again_after_spread_delay() {
  if (spread_timer_armed_ || pool_.phase() == pool_phase::stopped) return;
  spread_timer_armed_ = true;
  // Armed only with the scheduler lock and not again before its handler has run (the flag), so
  // no two threads touch the timer at once.
  spread_timer_.expires_after(spread_after_ + std::chrono::microseconds(100));
  spread_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // the pool is stopping
    const scheduler_lock lock(*pool_.link_);
    spread_timer_armed_ = false;
    if (pool_.phase() == pool_phase::stopped) return;
    dispatch();
    spread_from_stalled_workers();
    steal_for_idle_workers();
  });
}

// Each busy worker that has not answered within spread_after_ gives back the calls queued behind
// the one it runs, for the idle workers. steal_for_idle_workers takes from one worker at a time,
// on a reply; here no reply may come, and a call revoked from a worker counts as held by it until
// the worker confirms it skipped it, after its running call.
void scheduler::spread_from_stalled_workers() {
  const auto now = std::chrono::steady_clock::now();
  std::uint32_t taken = 0;
  for (auto& worker : pool_.workers_)
    if (worker->state == worker_record::phase::running && worker->occupied() >= 2 &&
        stalled(*worker, now))
      taken += revoke_queued(*worker);
  if (taken != 0) dispatch();
}

bool scheduler::needs_bulk(const task_state& task) const {
  return call_frame_size(task.name.size(), task.arguments.size(), false) >
         ring_max_message(ring_capacity_);
}

bool scheduler::send_call(worker_record& worker, const std::shared_ptr<task_state>& task) {
  ring_producer& out = worker.channel->requests_out();
  const bool bulk = needs_bulk(*task);
  const std::size_t size = call_frame_size(task->name.size(), task->arguments.size(), bulk);
  if (task->name.size() > 0xffff || size > out.max_message() ||
      (bulk && task->arguments.size() > worker.channel->request_bulk().capacity())) {
    task->fail(std::make_exception_ptr(bad_arguments(
        "the call to '" + task->name + "' (" + std::to_string(task->arguments.size()) +
        " bytes of arguments) is larger than the pool's max_payload_bytes (" +
        std::to_string(worker.channel->request_bulk().capacity()) + ")")));
    return false;
  }
  std::byte* frame = out.try_reserve(size);
  if (frame == nullptr) {
    worker.ring_full = true;
    pending_.push_front(task);
    return false;
  }
  const std::uint32_t slot = worker.calls.next_free();
  // Published to the worker by the ring's release store; seen by cancel() through the task lock.
  worker.channel->slot(slot).store(slot_word(task->id, slot_state::queued),
                                   std::memory_order_relaxed);
  if (!task_engine::begin_dispatch(*task, worker.channel,
                                   slot)) {  // cancelled meanwhile: leave it out
    worker.channel->slot(slot).store(0, std::memory_order_relaxed);
    return false;
  }
  worker.calls.occupy(task);

  call_message call{frame_kind_of(task->kind), task->id,   slot, task->argument_signature,
                    task->result_signature,    task->name, {},   {}};
  if (bulk) {
    // The worker reads the area only for this call, and no other call of its uses it until the
    // reply (see slot_table::bulk_held), so writing it here races with nothing.
    const bulk_area& area = worker.channel->request_bulk();
    area.prepare_write(0, task->arguments.size());
    std::memcpy(area.data(), task->arguments.data(), task->arguments.size());
    call.bulk_size = task->arguments.size();
    worker.calls.hold_bulk(slot);
  } else {
    call.arguments = task->arguments;
  }
  encode_call(frame, call);
  out.commit(size);
  return true;
}

void scheduler::watch_bell(worker_record& worker) {
  if (worker.watching || worker.state == worker_record::phase::exited) return;
  worker.watching = true;
  worker.bell->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [this, id = worker.id](boost::system::error_code ec) {
                            if (ec) return;  // the worker was buried
                            const scheduler_lock lock(*pool_.link_);
                            worker_record* w = pool_.worker_by_id(id);
                            if (w == nullptr) return;
                            w->watching = false;
                            w->channel->master_bell().clear();
                            settle_lending(*w);  // a new worker rings once it offers
                            w->channel->responses_in().end_sleep();
                            drain_replies(*w);
                          });
}

bool scheduler::drain_ring(worker_record& worker) {
  ring_consumer& in = worker.channel->responses_in();
  for (;;) {
    std::span<const std::byte> message;
    const ring_consumer::status status = in.try_peek(message);
    if (status == ring_consumer::status::empty) {
      in.release();
      return true;
    }
    if (status == ring_consumer::status::corrupt) {
      worker.fault = "the reply ring is corrupt";
      return false;
    }
    if (!handle_reply(worker, message)) return false;
    in.pop();
  }
}

void scheduler::drain_replies(worker_record& worker) {
  for (;;) {
    if (!drain_ring(worker)) {
      // Nothing more from this worker can be trusted: replace it. Its exit completes the rest.
      worker.state = worker_record::phase::retiring;
      signal_worker(worker, SIGKILL);
      return;
    }
    // Announce sleep, then look once more: a reply published in between is not missed.
    if (worker.channel->responses_in().prepare_sleep()) break;
  }
  watch_bell(worker);
  pool_.supervisor_.check_limits(worker);
  dispatch();
  steal_for_idle_workers();
}

// ---- helping: a thread waiting for a task reads replies itself --------------------------------

void scheduler::help() {
  if (pool_.forked_away()) return;  // the parent's rings: not ours to read
  for (auto& worker : pool_.workers_) {
    if (worker->state == worker_record::phase::exited || !worker->fault.empty()) continue;
    // Awake now: the worker need not ring the pool's thread when it replies.
    worker->channel->responses_in().end_sleep();
    if (!drain_ring(*worker) || needs_supervision(*worker)) hand_to_pool_thread(*worker);
  }
  dispatch();
  steal_for_idle_workers();
}

void scheduler::stop_helping() {
  if (pool_.forked_away()) return;
  bool drained = false;
  for (auto& worker : pool_.workers_) {
    if (worker->state == worker_record::phase::exited || !worker->fault.empty()) continue;
    // The same announce-then-look as drain_replies: a reply published meanwhile is not missed.
    while (!worker->channel->responses_in().prepare_sleep()) {
      drained = true;
      if (!drain_ring(*worker)) break;
    }
    if (!worker->fault.empty() || needs_supervision(*worker)) hand_to_pool_thread(*worker);
  }
  if (drained) dispatch();
}

bool scheduler::needs_supervision(const worker_record& worker) const {
  // Mirrors check_limits, plus a fault (the worker is to be killed).
  if (!worker.fault.empty() || worker.stop_pending) return true;
  if (worker.state == worker_record::phase::retiring && worker.occupied() == 0 &&
      !worker.stop_timer)
    return true;  // its stop grace starts
  if (worker.state != worker_record::phase::running) return false;
  const std::uint64_t max_tasks = pool_.options_.max_tasks_per_worker;
  const std::uint64_t max_rss = pool_.options_.max_worker_rss_bytes;
  return (max_tasks != 0 && worker.tasks_run.load(std::memory_order_relaxed) >= max_tasks) ||
         (max_rss != 0 && worker.rss_bytes.load(std::memory_order_relaxed) > max_rss);
}

void scheduler::hand_to_pool_thread(worker_record& worker) {
  if (worker.supervision_posted || pool_.phase() == pool_phase::stopped) return;
  worker.supervision_posted = true;
  pool_.post_locked([this, id = worker.id] {
    worker_record* w = pool_.worker_by_id(id);
    if (w == nullptr) return;
    w->supervision_posted = false;
    if (w->state == worker_record::phase::exited) return;
    w->channel->responses_in().end_sleep();
    drain_replies(*w);
  });
}

bool scheduler::handle_reply(worker_record& worker, std::span<const std::byte> message) {
  settle_lending(worker);  // before the parse: whether the worker may lend
  const bulk_area& area = worker.channel->response_bulk();
  reply_tables tables;
  reply_message reply;
  if (const char* fault = parse_reply(
          message, {area.capacity(), worker.lender_pid != 0, worker.channel->shared() != nullptr},
          tables, reply)) {
    worker.fault = fault;
    return false;
  }
  const std::uint32_t slot = reply.slot;
  if (worker.calls.revoked(slot)) {  // taken back earlier; the worker confirms it skipped the call
    if (reply.kind != frame_kind::skipped) {
      worker.fault = "worker ran a call it had been told to skip";
      return false;
    }
    release_slot(worker, slot);
    return true;
  }
  const std::shared_ptr<task_state> task = worker.calls.task(slot);
  if (!task || task->id != reply.task_id) {
    worker.fault = "reply for a task the worker does not hold";
    return false;
  }
  worker.rss_bytes.store(reply.rss_bytes, std::memory_order_relaxed);
  shared_receipt receipt;  // blocks the decoding does not claim are released with it
  if (!receive_shared(worker, reply.shared, receipt)) return false;
  const std::span<const std::byte> body =
      reply.bulk_size ? area.prepare_read(*reply.bulk_size) : reply.body;
  release_slot(worker, slot);
  switch (reply.kind) {
    case frame_kind::result:
      worker.tasks_run.fetch_add(1, std::memory_order_relaxed);
      pool_.supervisor_.note_success();
      deliver_result(worker, *task, payload_view(body, reply.lent, worker.lender_pid, &receipt));
      if (reply.bulk_size) area.release(body.size());
      if (reply.bulk_size || !reply.lent.empty())
        worker.channel->large_result_busy().store(0, std::memory_order_release);
      break;
    case frame_kind::error: {
      worker.tasks_run.fetch_add(1, std::memory_order_relaxed);
      wire_error error;
      try {
        decode_exact(body, error);
        task->fail(to_exception(std::move(error), *task));
      } catch (const decode_failure& e) {
        task->fail(std::make_exception_ptr(
            protocol_error(std::string("an error reply did not decode: ") + e.what())));
      }
      break;
    }
    default: break;  // skipped: the user cancelled it; its future is already done
  }
  return true;
}

// The blocks of the worker's shared area a result names, ready for its decoding.
bool scheduler::receive_shared(worker_record& worker, std::span<const shared_token> tokens,
                               shared_receipt& receipt) {
  if (tokens.empty()) return true;
  try {
    receipt.blocks.reserve(tokens.size());
    for (const shared_token& token : tokens)
      receipt.blocks.push_back(worker.channel->shared()->receive(token));
  } catch (const decode_failure&) {
    worker.fault = "a reply names a shared buffer outside its worker's area";
    return false;
  }
  return true;
}

// Once the worker has offered (when it starts, and before its first reply), checks whether its
// memory can be read, which lets it lend from then on.
void scheduler::settle_lending(worker_record& worker) {
  if (worker.lending_settled) return;
  worker.lender_pid = worker.channel->lending().settle(worker.pid);
  worker.lending_settled = worker.channel->lending().state() != lending_state::unknown;
}

// Decodes here, on this thread: afterwards the bulk area is free, and the worker, waiting for
// the busy word, may free its lent runs.
void scheduler::deliver_result(const worker_record& worker, task_state& task,
                               const payload_view& result) {
  std::uint64_t lent_bytes = 0;
  for (const lent_run& run : result.lent) lent_bytes += run.size;
  if (lent_bytes != 0 && worker.reaped) {  // its pid may name another process by now
    task.fail(std::make_exception_ptr(
        protocol_error("the result of task '" + task.name +
                       "' is lost: the worker exited before its result was read")));
    return;
  }
  // Counted before the future completes, so a caller who sees the result sees the count.
  lent_bytes_read_.fetch_add(lent_bytes, std::memory_order_relaxed);
  if (!task_engine::succeed_from(task, result))
    lent_bytes_read_.fetch_sub(lent_bytes, std::memory_order_relaxed);
}

void scheduler::release_slot(worker_record& worker, std::uint32_t slot) {
  worker.calls.release(slot);
  worker.channel->slot(slot).store(0, std::memory_order_relaxed);
  worker.ring_full = false;
}

std::uint32_t scheduler::revoke_queued(worker_record& worker) {
  std::vector<std::shared_ptr<task_state>> taken = worker.calls.revoke_queued();
  const auto count = static_cast<std::uint32_t>(taken.size());
  requeue_first(pending_, std::move(taken));
  return count;
}

void scheduler::steal_for_idle_workers() {
  if (!pending_.empty()) return;
  const bool someone_idle =
      std::any_of(pool_.workers_.begin(), pool_.workers_.end(), [&](const auto& w) {
        return w->state == worker_record::phase::running && w->occupied() == 0 && !w->ring_full;
      });
  if (!someone_idle) return;
  worker_record* busiest = nullptr;
  for (auto& worker : pool_.workers_) {
    if (worker->state != worker_record::phase::running) continue;
    if (busiest == nullptr || worker->occupied() > busiest->occupied()) busiest = worker.get();
  }
  // Leave a worker its running call; take back what waits behind it.
  if (busiest == nullptr || busiest->occupied() < 2) return;
  // The calls would only go back to the busy workers, which are answering: look again later.
  gate_known_ = false;
  holders_.clear();  // what the last dispatch saw has changed since
  for (auto& worker : pool_.workers_)
    if (holds_calls(*worker)) holders_.push_back(worker.get());
  if (!idle_worker_may_take_calls()) {
    look_again_after_spread_delay();
    return;
  }
  if (revoke_queued(*busiest) > 0) {
    dispatch();
    return;
  }
  // What the busiest holds may be calls taken back already, which count as held until the
  // worker skips them (after the call it runs): take from the next one with calls waiting.
  for (auto& worker : pool_.workers_)
    if (worker->state == worker_record::phase::running && worker->occupied() >= 2 &&
        revoke_queued(*worker) > 0) {
      dispatch();
      return;
    }
}

}  // namespace forkpool::detail
