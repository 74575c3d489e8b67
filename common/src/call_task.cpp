#include "call_task.hpp"

#include <exception>
#include <string>
#include <typeinfo>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/type_name.hpp"
#include "forkpool/errors.hpp"

namespace forkpool::detail {

wire_error describe_current_exception() {
  wire_error e;
  try {
    throw;
  } catch (const shared_memory_exhausted& ex) {
    e.code = error_code::shared_memory_exhausted;
    e.message = ex.what();
  } catch (const std::exception& ex) {
    e.type_name = demangle(typeid(ex).name());
    e.message = ex.what();
  } catch (...) {
    e.type_name = "unknown exception";
    e.message = "the task threw something that is not a std::exception";
  }
  return e;
}

bool call_task(const encoded_call& call, std::streambuf& result, wire_error& failure) {
  const task_entry* task = find_task(call.name);
  if (task == nullptr) {
    failure = {error_code::unknown_task, "", unknown_task_message(call.name)};
    return false;
  }
  if (call.argument_signature != task->argument_signature) {
    failure = {error_code::bad_arguments, "",
               "task '" + task->name + "' takes " + task->argument_types + "; " +
                   std::string(kArgumentTypesDiffer)};
    return false;
  }
  if (call.result_signature != task->result_signature) {
    failure = {error_code::bad_arguments, "",
               "task '" + task->name + "' returns " + task->result_type + "; " +
                   std::string(kResultTypeDiffers)};
    return false;
  }
  const invoke_function invoke = call.kind == frame_kind::call ? task->invoke : task->invoke_chunk;
  if (invoke == nullptr) {
    failure = {error_code::bad_arguments, "", "task '" + task->name + "' cannot be mapped"};
    return false;
  }
  try {
    invoke(task->function, call.arguments, result);
  } catch (const decode_failure& e) {
    failure = {error_code::bad_arguments, "",
               "arguments for task '" + task->name + "' " + task->argument_types +
                   " did not decode: " + e.what()};
    return false;
  } catch (...) {
    failure = describe_current_exception();
    return false;
  }
  return true;
}

}  // namespace forkpool::detail
