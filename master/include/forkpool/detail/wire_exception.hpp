// The typed forkpool error for an error reported on the wire.
#pragma once

#include <exception>

#include "forkpool/detail/wire.hpp"

namespace forkpool::detail {

std::exception_ptr to_exception(const wire_error& error);

}  // namespace forkpool::detail
