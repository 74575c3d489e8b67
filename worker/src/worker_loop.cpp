#include "worker_loop.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "call_task.hpp"
#include "forkpool/detail/frame.hpp"
#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/wire.hpp"
#include "private_memory.hpp"
#include "reply_body.hpp"
#include "shared_area.hpp"
#include "worker_channel.hpp"
#include "worker_messages.hpp"

namespace forkpool::detail {
namespace {

[[noreturn]] void leave(int code) {
  std::fflush(nullptr);  // what tasks printed; _exit skips the parent's inherited atexit handlers
  ::_exit(code);
}

// The worker's private memory, for its reply. Without a limit to enforce it is sampled at most
// once a millisecond (it is only reported), so quick tasks stay quick; with one, after every
// task.
class memory_sampler {
 public:
  memory_sampler(std::uint64_t limit, bool fresh_run)
      : probe_(fresh_run ? private_memory_probe::start::fresh_run
                         : private_memory_probe::start::forked_child,
               /*exact_at_start=*/limit != 0),
        limit_(limit) {}
  /// `uncounted`: bytes freed as soon as the master has read the reply.
  std::uint64_t sample(std::uint64_t uncounted) {
    const auto now = std::chrono::steady_clock::now();
    if (limit_ != 0 || now - last_ >= std::chrono::milliseconds(1) || !sampled_) {
      last_ = now;
      sampled_ = true;
      // The limit applies to what stays, so the probe is asked about limit + uncounted.
      value_ = probe_.bytes(limit_ == 0 ? 0 : limit_ + uncounted);
    }
    return value_ - std::min(value_, uncounted);
  }

 private:
  private_memory_probe probe_;
  std::uint64_t limit_;
  bool sampled_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t value_ = 0;
};

class worker {
 public:
  worker(worker_channel& channel, const worker_config& config)
      : channel_(channel),
        config_(config),
        memory_(config.rss_limit, config.fresh_run),
        body_(result_, ring_room(channel), channel, config.spin) {
    // From here on, a task's shared_bytes come from this channel's shared area, and a result
    // encoded into body_ names them instead of copying them.
    this_worker_sharing() = {channel.shared(), &body_};
  }

  [[noreturn]] void run() {
    run_initializer();
    // After the initializer, so the master's check sees what tasks will run under; the bell
    // lets it check before the first result is ready.
    channel_.lending().offer();
    channel_.master_bell().ring();
    ring_consumer& requests = channel_.requests_in();
    for (;;) {
      std::span<const std::byte> message;
      if (requests.peek(message, request_spin_) == ring_consumer::status::corrupt)
        leave(worker_exit_corrupt_ring);
      frame_view frame;
      if (parse_frame(message, frame) != frame_fault::none) leave(worker_exit_corrupt_frame);
      if (frame.kind == frame_kind::stop) leave(worker_exit_stopped);
      call_message call;
      if (parse_call(frame, channel_.request_bulk().capacity(), call) != nullptr)
        leave(worker_exit_corrupt_frame);
      if (over_rss_limit_) await_revocation(call);
      handle_call(call);  // decodes in place, so the message is popped only afterwards
      requests.pop();
      requests.release();
    }
  }

 private:
  void run_initializer() {
    if (!config_.initializer) return;
    try {
      config_.initializer();
    } catch (...) {
      initializer_error_ = describe_current_exception();
      initializer_error_.code = error_code::initializer;
      initializer_failed_ = true;
    }
  }

  // Above the RSS limit, the master retires this worker on reading the reply that said so and
  // takes back every call still queued here; wait for that instead of running one more task.
  // The wait is bounded, so a master that never revokes (it cannot happen today) costs a pause,
  // not a hang.
  void await_revocation(const call_message& call) {
    const std::uint64_t queued = slot_word(call.task_id, slot_state::queued);
    for (int i = 0; i < 20000 && channel_.slot(call.slot).load(std::memory_order_acquire) == queued;
         ++i)
      ::usleep(100);
  }

  void handle_call(const call_message& call) {
    if (!channel_.try_start(call.slot, call.task_id)) {
      reply(plain_reply(frame_kind::skipped, call.task_id, call.slot));
      return;
    }
    const std::span<const std::byte> arguments =
        call.bulk_size ? channel_.request_bulk().prepare_read(*call.bulk_size) : call.arguments;

    body_.reset();
    current_task_ = call.task_id;
    current_slot_ = call.slot;
    wire_error failure;
    bool ok = initializer_failed_ ? false
                                  : call_task({call.name, call.kind, call.argument_signature,
                                               call.result_signature, arguments},
                                              body_, failure);
    if (call.bulk_size) channel_.request_bulk().release(arguments.size());
    if (initializer_failed_) failure = initializer_error_;  // copied only when it is the answer
    if (ok) body_.fit_tables();                             // on failure, overflowed() says so
    if (body_.overflowed()) {
      ok = false;
      failure = {error_code::protocol, "",
                 "the result is larger than the pool's max_payload_bytes (" +
                     std::to_string(channel_.response_bulk().capacity()) + ")"};
    }
    if (!ok) {
      body_.abandon_bulk();
      if (shared_area* area = channel_.shared().get()) area->cancel_reply();
    }
    if (ok) {
      publish_result();
      // Lent runs are read from this process's memory, in the result the body keeps: it may go
      // (at the next reset) once the master has read them.
      if (!body_.lent().empty()) body_.await_master_read();
    } else {
      result_.clear();
      encode_into(result_, failure);
      reply(plain_reply(frame_kind::error, call.task_id, call.slot, result_));
      // A worker whose initializer failed says why once, then makes way for a fresh one (the
      // master backs off between attempts). Its queued calls go to other workers.
      if (initializer_failed_) leave(worker_exit_initializer_failed);
    }
  }

  // Sends the current call's result as the reply body holds it: its bytes in the ring or the
  // bulk area, after the tables of its shared blocks and lent runs if it has any.
  void publish_result() {
    reply_message result = plain_reply(frame_kind::result, current_task_, current_slot_);
    if (channel_.shared()) result.shared = channel_.shared()->reply_table();
    result.lent = body_.lent();
    if (body_.in_bulk()) {
      result.bulk_size = body_.bulk_size();
    } else {
      result.body = result_;
    }
    reply(result);
  }

  // The largest reply body a response frame can carry.
  static std::size_t ring_room(worker_channel& channel) {
    return channel.responses_out().max_message() - frame_size(sizeof(reply_header));
  }

  void reply(reply_message message) {
    ring_producer& responses = channel_.responses_out();
    const std::size_t size = reply_frame_size(message);
    if (size > responses.max_message()) {
      // Too large for the ring: say so instead of the result.
      const std::size_t body_size = message.body.size();
      result_.clear();
      encode_into(result_, wire_error{error_code::protocol, "",
                                      "the result (" + std::to_string(body_size) +
                                          " bytes) is larger than the pool's ring_bytes"});
      if (shared_area* area = channel_.shared().get()) area->cancel_reply();
      return reply(plain_reply(frame_kind::error, message.task_id, message.slot, result_));
    }
    // Bytes this worker frees as soon as the master has read the reply (its lent runs) are not
    // counted as its memory.
    std::uint64_t freed_after = 0;
    for (const lent_run& run : message.lent) freed_after += run.size;
    std::byte* frame = responses.reserve(size, room_spin_);
    message.rss_bytes = memory_.sample(freed_after);
    if (config_.rss_limit != 0 && message.rss_bytes > config_.rss_limit) over_rss_limit_ = true;
    encode_reply(frame, message);
    responses.commit(size);
    responses.publish();
    if (!message.shared.empty()) channel_.shared()->commit_reply();
  }

  worker_channel& channel_;
  const worker_config& config_;
  // The wait for the next call spins its whole budget every time, without learning: a worker
  // that stopped spinning after a few slow turns of its master (descheduled, or woken from
  // sleep itself) makes every later call pay its wake-up, and the master's waits then look slow
  // too (measured: p50 round trips of 12-18 µs instead of 2.4 µs with learning here). On one
  // CPU it does not spin at all (spin_time).
  adaptive_spin request_spin_{config_.spin, adaptive_spin::fixed};
  adaptive_spin room_spin_{config_.spin};
  memory_sampler memory_;
  byte_buffer result_;
  reply_body body_;
  std::uint64_t current_task_ = 0;
  std::uint32_t current_slot_ = 0;
  bool initializer_failed_ = false;
  bool over_rss_limit_ = false;
  wire_error initializer_error_;
};

}  // namespace

void prepare_forked_child(int* keep, int count, pid_t die_with) {
  // The parent's signal handlers (a test framework's, a server's) make no sense here.
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (die_with != 0) {
    // Compared with the pid the parent had before it forked, not with getppid() read here: a
    // parent killed between the fork and the prctl has already made this child an orphan, and
    // the prctl would then arm nothing.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != die_with) ::_exit(worker_exit_setup_failed);
  }
  // Renumber the descriptors we keep to 3, 4, ...; close everything else we inherited.
  for (int i = 0; i < count; ++i) {
    const int target = 3 + i;
    if (keep[i] == target) continue;
    // dup to a high number first so a later keep[] entry is not overwritten.
    keep[i] = ::fcntl(keep[i], F_DUPFD_CLOEXEC, 3 + count);
  }
  for (int i = 0; i < count; ++i) {
    if (keep[i] != 3 + i) ::dup3(keep[i], 3 + i, O_CLOEXEC);
    keep[i] = 3 + i;
  }
  ::syscall(SYS_close_range, 3 + count, ~0U, 0);
}

void offer_to_oom_killer() noexcept {
  const int file = ::open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  if (file < 0) return;
  char text[16] = {};
  const ssize_t got = ::read(file, text, sizeof text - 1);
  if (got > 0) {
    const long raised = std::min(std::strtol(text, nullptr, 10) + kWorkerOomScoreRaise, 1000L);
    const int length = std::snprintf(text, sizeof text, "%ld", raised);
    if (::lseek(file, 0, SEEK_SET) == 0 && length > 0) (void)!::write(file, text, length);
  }
  ::close(file);
}

void run_worker(worker_endpoints endpoints, const worker_config& config) {
  ::signal(SIGPIPE, SIG_IGN);
  ::prctl(PR_SET_NAME, kWorkerTitle);  // what ps -o comm shows, as for gunicorn's workers
  offer_to_oom_killer();
  try {
    // A worker whose bells a task took away can neither wake the master nor be woken: it
    // leaves, its call fails (or its published reply is read) and a replacement starts.
    worker_channel channel(std::move(endpoints.region), std::move(endpoints.worker_bell),
                           std::move(endpoints.master_bell),
                           []() noexcept { leave(worker_exit_channel_lost); });
    worker w(channel, config);
    w.run();
  } catch (...) {
    leave(worker_exit_setup_failed);
  }
}

}  // namespace forkpool::detail
