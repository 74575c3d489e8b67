#include "wire_exception.hpp"

#include <sstream>

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
    case error_code::worker_died: {
      int pid = 0, signal = 0, exit_code = -1;
      std::istringstream(e.type_name) >> pid >> signal >> exit_code;
      return std::make_exception_ptr(worker_died(e.message, pid, signal, exit_code));
    }
    case error_code::task_timeout: return std::make_exception_ptr(task_timeout(e.message));
    case error_code::cancelled: return std::make_exception_ptr(cancelled_error());
    case error_code::broken_pool: return std::make_exception_ptr(broken_pool(e.message));
    case error_code::shared_memory_exhausted:
      return std::make_exception_ptr(shared_memory_exhausted(e.message));
    case error_code::other: return std::make_exception_ptr(error(e.message));
  }
  return std::make_exception_ptr(protocol_error("unknown error code: " + e.message));
}

std::exception_ptr to_exception(wire_error error, const task_state& call) {
  if (error.code == error_code::bad_arguments) {
    const std::string_view message = error.message;
    if (message.ends_with(kArgumentTypesDiffer) && call.sent_argument_types != nullptr)
      error.message += ": this call sent " + call.sent_argument_types();
    else if (message.ends_with(kResultTypeDiffers) && call.asked_result_type != nullptr)
      error.message += ": this call asked for " + call.asked_result_type();
  }
  return to_exception(error);
}

wire_error to_wire_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const remote_error& e) {
    return {error_code::remote, e.type_name(), e.message()};
  } catch (const worker_died& e) {
    return {error_code::worker_died,
            std::to_string(e.pid()) + " " + std::to_string(e.signal()) + " " +
                std::to_string(e.exit_code()),
            e.what()};
  } catch (const unknown_task& e) {
    return {error_code::unknown_task, "", e.what()};
  } catch (const bad_arguments& e) {
    return {error_code::bad_arguments, "", e.what()};
  } catch (const protocol_error& e) {
    return {error_code::protocol, "", e.what()};
  } catch (const task_timeout& e) {
    return {error_code::task_timeout, "", e.what()};
  } catch (const broken_pool& e) {
    return {error_code::broken_pool, "", e.what()};
  } catch (const cancelled_error& e) {
    return {error_code::cancelled, "", e.what()};
  } catch (const shared_memory_exhausted& e) {
    return {error_code::shared_memory_exhausted, "", e.what()};
  } catch (const std::exception& e) {
    return {error_code::other, "", e.what()};
  } catch (...) {
    return {error_code::other, "", "unknown error"};
  }
}

}  // namespace forkpool::detail
