// The typed forkpool error for an error reported on the wire.
#pragma once

#include <exception>

#include "forkpool/detail/task_state.hpp"
#include "forkpool/detail/wire.hpp"

namespace forkpool::detail {

std::exception_ptr to_exception(const wire_error& error);

/// to_exception for the reply to `call`: a mismatch of a call by name also says what it sent.
std::exception_ptr to_exception(wire_error error, const task_state& call);

/// The wire form of a future's error, so that a remote caller gets the same typed error back.
wire_error to_wire_error(std::exception_ptr error);

}  // namespace forkpool::detail
