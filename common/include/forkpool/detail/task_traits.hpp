// What forkpool needs to know about a task function's type, and how a worker calls it.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/sendable.hpp"
#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/std_types.hpp"
#include "forkpool/detail/type_name.hpp"

namespace forkpool::detail {

template <class F>
struct function_traits;

template <class R, class... P>
struct function_traits<R (*)(P...)> {
  /// What the caller gets: a copy, also of a reference or a const value the task returns.
  using result = std::remove_cvref_t<R>;
  using arguments = std::tuple<std::decay_t<P>...>;  ///< what travels in a call
  using pointer = R (*)(P...);
  static constexpr std::size_t arity = sizeof...(P);
  static constexpr std::uint64_t argument_signature = signature_of<std::decay_t<P>...>();
  static constexpr std::uint64_t result_signature = signature_of<R>();
  static std::string argument_types() { return signature_text<std::decay_t<P>...>(); }
  static constexpr bool takes_mutable_reference =
      ((std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>) || ...);
};
template <class R, class... P>
struct function_traits<R (*)(P...) noexcept> : function_traits<R (*)(P...)> {};

/// What a map chunk holds per input: the arguments tuple, or for a task of one number parameter
/// the number itself. Both encode to the same bytes (a tuple's encoding is its fields'), but a
/// vector of numbers is copied in and out of a frame whole instead of an item at a time.
template <class Arguments>
struct chunk_item {
  using type = Arguments;
};
template <plain_number T>
struct chunk_item<std::tuple<T>> {
  using type = T;
};
template <class Traits>
using chunk_item_t = typename chunk_item<typename Traits::arguments>::type;

/// True when every parameter and the result of the task described by `Traits` (function_traits)
/// can be sent; otherwise one compile error naming the type that cannot.
template <class Traits>
consteval bool require_sendable_task() {
  const bool arguments = require_sendable<typename Traits::arguments>();
  return require_sendable_result<typename Traits::result>() && arguments;
}

/// Whether an argument of type A for a parameter of type P would silently drop a fraction
/// (submit(fn, 1000.7) to a long): process pools reject that at compile time. Other arithmetic
/// conversions (int to double, int to unsigned) happen as in a direct call.
template <class Parameters, class... A>
struct drops_fraction : std::false_type {};
template <class... P, class... A>
  requires(sizeof...(P) == sizeof...(A))
struct drops_fraction<std::tuple<P...>, A...>
    : std::bool_constant<(
          (std::is_integral_v<P> && std::is_floating_point_v<std::remove_cvref_t<A>>) || ...)> {};

/// A plain function, or a captureless lambda (which converts to one).
template <class F>
concept task_function = requires(F f) {
  { +f } -> std::convertible_to<typename function_traits<decltype(+f)>::pointer>;
};

template <task_function F>
using task_pointer_t = decltype(+std::declval<F>());

/// What the task returns.
template <task_function F>
using task_result_t = typename function_traits<task_pointer_t<F>>::result;

template <class Pointer>
void invoke_one(erased_function function, std::span<const std::byte> bytes,
                std::streambuf& result) {
  using traits = function_traits<Pointer>;
  const auto fn = reinterpret_cast<typename traits::pointer>(function);
  typename traits::arguments arguments;
  std::apply([&](auto&... a) { decode_exact(bytes, a...); }, arguments);
  if constexpr (std::is_void_v<typename traits::result>) {
    std::apply(fn, std::move(arguments));
  } else {
    encode_result(result, std::apply(fn, std::move(arguments)));
  }
}

/// A map chunk: decodes the inputs, calls the task on each, encodes the results as one vector.
/// `Direct` (a captureless lambda that calls the task by its name, see FORKPOOL_TASK) lets the
/// compiler inline the task into the loop: a chunk of a thousand small calls through a function
/// pointer spends more time in the calls than in the task.
template <class Pointer, class Direct>
void invoke_chunk(erased_function, std::span<const std::byte> bytes, std::streambuf& result) {
  using traits = function_traits<Pointer>;
  using item = chunk_item_t<traits>;
  using R = typename traits::result;
  constexpr bool one_number = !std::is_same_v<item, typename traits::arguments>;
  const auto call = [](item& input) -> R {
    if constexpr (one_number)
      return Direct{}(input);
    else
      return std::apply(Direct{}, std::move(input));
  };
  std::vector<item> items;
  decode_exact(bytes, items);
  if constexpr (one_number && std::is_same_v<item, R>) {
    // Numbers to numbers of the same type: the results overwrite the inputs.
    for (item& value : items) value = call(value);
    encode_result(result, std::move(items));
  } else {
    std::vector<R> results;
    results.reserve(items.size());
    for (item& input : items) results.push_back(call(input));
    encode_result(result, std::move(results));
  }
}

template <class Pointer, class Direct>
task_entry make_task_entry(Pointer fn, const char* name, Direct) {
  using traits = function_traits<Pointer>;
  static_assert(!traits::takes_mutable_reference,
                "a task's parameters must be values or const references: the arguments are "
                "copies, so changes could never reach the caller");
  task_entry entry;
  if constexpr (!require_sendable_task<traits>()) return entry;  // the error above says why
  entry.name = name;
  entry.function = reinterpret_cast<erased_function>(fn);
  entry.argument_signature = traits::argument_signature;
  entry.result_signature = traits::result_signature;
  entry.argument_types = traits::argument_types();
  entry.result_type = std::string(type_name<typename traits::result>());
  entry.invoke = &invoke_one<Pointer>;
  if constexpr (!std::is_void_v<typename traits::result>)
    entry.invoke_chunk = &invoke_chunk<Pointer, Direct>;
  return entry;
}

/// Registers a task during static initialisation (see FORKPOOL_TASK). `direct` calls `fn` by its
/// name, so that a map chunk's loop can inline it.
struct task_registrar {
  template <task_function F, class Direct>
    requires std::is_empty_v<Direct> && std::is_default_constructible_v<Direct>
  task_registrar(F fn, const char* name, Direct direct) {
    register_task(make_task_entry(+fn, name, direct));
  }
};

}  // namespace forkpool::detail
