#include "forkpool/detail/wire_exception.hpp"

#include "forkpool/errors.hpp"

namespace forkpool::detail {

std::exception_ptr to_exception(const wire_error& e) {
  switch (e.code) {
    case error_code::remote: return std::make_exception_ptr(remote_error(e.type_name, e.message));
    case error_code::unknown_task: return std::make_exception_ptr(unknown_task(e.message));
    case error_code::bad_arguments: return std::make_exception_ptr(bad_arguments(e.message));
    case error_code::protocol: return std::make_exception_ptr(protocol_error(e.message));
    case error_code::initializer:
      return std::make_exception_ptr(
          remote_error(e.type_name, "the worker's initializer failed: " + e.message));
  }
  return std::make_exception_ptr(protocol_error("unknown error code from worker"));
}

}  // namespace forkpool::detail
