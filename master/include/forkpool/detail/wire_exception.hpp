// The typed forkpool error for an error reported on the wire.
#pragma once

#include <exception>

#include "forkpool/detail/wire.hpp"

namespace forkpool::detail {

std::exception_ptr to_exception(const wire_error& error);

/// The wire form of a future's error, so that a remote caller gets the same typed error back.
wire_error to_wire_error(std::exception_ptr error);

}  // namespace forkpool::detail
