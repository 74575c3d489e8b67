// What travels inside frames between master and worker, after the frame header.
#pragma once

#include <cereal/types/common.hpp>
#include <cereal/types/string.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace forkpool::detail {

/// Start of a call / call_chunk payload; followed by the task name, then the cereal arguments.
struct call_header {
  std::uint64_t argument_signature;
  std::uint64_t result_signature;
  std::uint32_t slot;  ///< index of the task's state word in the channel
  std::uint16_t name_size;
  std::uint16_t flags;  ///< kArgumentsInBulk or 0
};
static_assert(sizeof(call_header) == 24);

/// The arguments are in the request bulk area; after the name the frame holds their size
/// (a std::uint64_t).
constexpr std::uint16_t kArgumentsInBulk = 1;

/// Start of a result / error / skipped payload; followed by the cereal result or wire_error.
struct reply_header {
  std::uint64_t rss_bytes;  ///< the worker's resident set after the task
  std::uint32_t slot;
  std::uint32_t flags;  ///< kBodyInBulk or 0
};
static_assert(sizeof(reply_header) == 16);

/// The result is in the response bulk area; the frame's body is its size (a std::uint64_t).
constexpr std::uint32_t kBodyInBulk = 1;
/// The body starts with a table of shared_tokens (shared_area.hpp): the blocks of the worker's
/// shared area the result names, at most shared_bytes::kSharedBuffersPerWorker. Before a lent
/// table, when both are present.
constexpr std::uint32_t kBodyShared = 4;

/// Runs of the result stay in the worker's memory until the master has read them (lent_run, in
/// archive.hpp): the body starts with a table of its runs, then holds what it would hold without
/// this flag.
constexpr std::uint32_t kBodyLent = 2;

/// Leads each table in front of a reply body: how many fixed-size entries follow.
struct reply_table_header {
  std::uint32_t count;
  std::uint32_t reserved;
};
static_assert(sizeof(reply_table_header) == 8);
constexpr std::uint32_t kMaxLentRuns = 64;
/// A contiguous run of at least this many bytes is lent rather than copied: below it, the
/// worker's wait for the master's read would cost more than the copy it saves.
constexpr std::size_t kLendAtLeast = std::size_t{1} << 20;

/// Which public error an error reply becomes.
enum class error_code : std::uint8_t {
  remote = 1,         ///< the task threw
  unknown_task = 2,
  bad_arguments = 3,
  protocol = 4,       ///< the call frame did not make sense
  initializer = 5,    ///< the worker's initializer threw
  // Only between forkpool-master and its clients:
  worker_died = 6,    ///< type_name holds "pid signal exit_code"
  task_timeout = 7,
  cancelled = 8,
  other = 9,          ///< any other forkpool::error
  broken_pool = 10,
  shared_memory_exhausted = 11,  ///< a task's shared_bytes found no room
};

/// The ends of a worker's bad_arguments messages when a call by name does not match the task's
/// types; the caller, which knows what it sent, adds that.
inline constexpr std::string_view kArgumentTypesDiffer = "the call's argument types differ";
inline constexpr std::string_view kResultTypeDiffers = "the caller asked for another result type";

struct wire_error {
  error_code code = error_code::remote;
  std::string type_name;
  std::string message;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(code, type_name, message);
  }
};

}  // namespace forkpool::detail
