// Turning a submit() into a queued call: encoding the arguments on the caller's thread.
#pragma once

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/task_memory.hpp"
#include "forkpool/detail/task_state.hpp"
#include "forkpool/detail/task_traits.hpp"
#include "forkpool/errors.hpp"
#include "forkpool/options.hpp"

namespace forkpool::detail {

template <class R, class... State>
std::shared_ptr<future_state<R>> new_call(const std::shared_ptr<pool_link>& link, std::string name,
                                          call_kind kind, std::uint64_t argument_signature,
                                          std::uint64_t result_signature, State&&... state_args) {
  auto state = std::allocate_shared<future_state<R>>(task_allocator<future_state<R>>(), link,
                                                     std::forward<State>(state_args)...);
  state->name = std::move(name);
  state->kind = kind;
  state->argument_signature = argument_signature;
  state->result_signature = result_signature;
  return state;
}

/// Runs `encode`, which writes the call's arguments into `state`. An exception from it (a user
/// type's save() that throws) fails the call with bad_arguments instead of leaving submit():
/// every error of a call lands on its future. Returns whether the call is ready to send.
template <class Encode>
bool encode_arguments(task_state& state, Encode&& encode) {
  try {
    encode();
    return true;
  } catch (const std::exception& e) {
    state.fail_before_sending(std::make_exception_ptr(bad_arguments(
        "the arguments of the call to '" + state.name + "' could not be encoded: " + e.what())));
  } catch (...) {
    state.fail_before_sending(std::make_exception_ptr(
        bad_arguments("the arguments of the call to '" + state.name +
                      "' could not be encoded: their serialization threw something that is not a "
                      "std::exception")));
  }
  return false;
}

/// `arg` as the type P it travels as: itself when it already is a P, else a P converted from it.
/// Encoding needs no copy of an argument that is already of its parameter's type.
template <class P, class A>
decltype(auto) as_parameter(A&& arg) {
  if constexpr (std::is_same_v<std::remove_cvref_t<A>, P>)
    return static_cast<const P&>(arg);
  else
    return P(std::forward<A>(arg));
}

/// Appends the encoding of `args` as the parameter types listed in `Parameters` (a std::tuple).
template <class Parameters>
struct encode_as;
template <class... P>
struct encode_as<std::tuple<P...>> {
  template <class... A>
  static void into(call_arguments& out, A&&... args) {
    if constexpr ((require_sendable<P>() && ...))
      encode_into(out, as_parameter<P>(std::forward<A>(args))...);
  }
};

/// A call of the task registered as `name`, its arguments encoded as the types they travel as
/// (string literals as std::string): the by-name submit of every executor and the client.
/// When the arguments could not be encoded, the call has failed already (done()): not to be sent.
template <class R, class... A>
std::shared_ptr<future_state<R>> new_named_call(const std::shared_ptr<pool_link>& link,
                                                std::string_view name, A&&... args) {
  [[maybe_unused]] constexpr bool sendable_result = require_sendable_result<R>();
  auto state = new_call<R>(link, std::string(name), call_kind::single,
                           signature_of<wire_type_t<A>...>(), signature_of<R>());
  state->sent_argument_types = &signature_text<wire_type_t<A>...>;
  state->asked_result_type = &type_name_text<R>;
  encode_arguments(*state, [&] {
    encode_as<std::tuple<wire_type_t<A>...>>::into(state->arguments, std::forward<A>(args)...);
  });
  return state;
}

/// Throws std::invalid_argument for settings no call can run with.
inline void check_call_options(const call_options& call) {
  if (call.timeout.count() < 0)
    throw std::invalid_argument("submit: call_options.timeout must not be negative");
}

/// The registry entry of a task function, or throws unknown_task.
template <class Pointer>
const task_entry& registered_task(Pointer fn) {
  const task_entry* entry = find_task(reinterpret_cast<erased_function>(fn));
  if (entry == nullptr)
    throw unknown_task(
        unregistered_function_message(reinterpret_cast<erased_function>(fn), type_name<Pointer>()));
  return *entry;
}

/// A call of the registered task `fn` with `args` converted to its parameter types: the
/// submit(fn, args...) of every pool that sends calls elsewhere. When the arguments could not be
/// encoded, the call has failed already (done()): not to be sent. Throws unknown_task.
template <task_function F, class... A>
auto new_function_call(const std::shared_ptr<pool_link>& link, F fn, A&&... args) {
  using traits = function_traits<task_pointer_t<F>>;
  using R = typename traits::result;
  static_assert(sizeof...(A) == traits::arity, "submit: wrong number of arguments for this task");
  static_assert(std::is_constructible_v<typename traits::arguments, A&&...>,
                "submit: the arguments do not convert to the task's parameter types");
  static_assert(!drops_fraction<typename traits::arguments, A...>::value,
                "submit: a floating-point argument for an integer parameter would lose its "
                "fraction; convert it explicitly (static_cast) if that is what you mean");
  [[maybe_unused]] constexpr bool sendable = require_sendable_task<traits>();
  const task_entry& entry = registered_task(+fn);
  auto state = new_call<R>(link, entry.name, call_kind::single, traits::argument_signature,
                           traits::result_signature);
  encode_arguments(*state, [&] {
    encode_as<typename traits::arguments>::into(state->arguments, std::forward<A>(args)...);
  });
  return state;
}

/// One map chunk of the task registered as `name`: its inputs (chunk_item_t) in one call, as a
/// std::vector of them or, for numbers, a std::span.
template <class Traits, class Chunk>
auto new_chunk_call(const std::shared_ptr<pool_link>& link, const std::string& name,
                    const Chunk& chunk) {
  using item = chunk_item_t<Traits>;
  auto state = new_call<std::vector<typename Traits::result>>(
      link, name, call_kind::map_chunk, Traits::argument_signature, Traits::result_signature);
  encode_arguments(*state, [&] {
    if constexpr (plain_number<item>)
      encode_numbers_into(state->arguments.buffer(), std::span<const item>(chunk));
    else
      encode_into(state->arguments.buffer(), chunk);
  });
  return state;
}

}  // namespace forkpool::detail
