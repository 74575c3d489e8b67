// Running a registered task from an encoded call: lookup, signature checks, decode, call, encode.
// Shared by the worker process and by thread_pool's submit-by-name.
#pragma once

#include <cstdint>
#include <span>
#include <streambuf>
#include <string_view>

#include "forkpool/detail/frame.hpp"
#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/wire.hpp"

namespace forkpool::detail {

struct encoded_call {
  std::string_view name;
  frame_kind kind = frame_kind::call;  ///< call or call_chunk
  std::uint64_t argument_signature = 0;
  std::uint64_t result_signature = 0;
  std::span<const std::byte> arguments;
};

/// Runs the call; on success returns true, the encoded result having been written to `result`.
/// On failure returns false and fills `failure` (unknown task, bad arguments, or what the task
/// threw).
bool call_task(const encoded_call& call, std::streambuf& result, wire_error& failure);

/// The wire_error for the exception being handled (inside a catch block).
wire_error describe_current_exception();

}  // namespace forkpool::detail
