// Whether a value can travel between processes (cereal can save and load it with forkpool's
// archives, and so can everything it holds), and one readable compile error when it cannot,
// instead of cereal's forty lines from deep inside its traits.
#pragma once

#include <cereal/details/traits.hpp>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "forkpool/detail/archive.hpp"

namespace forkpool::detail {

template <class T>
struct sendable;

template <class T>
inline constexpr bool sendable_v = sendable<std::remove_cv_t<T>>::value;

// What a value holds, looked into because cereal's own functions for containers, optional and
// smart pointers accept any element type and fail only when instantiated.
template <class T, class = void>
struct sendable_elements : std::true_type {};
template <class T>
struct sendable_elements<T, std::void_t<typename T::value_type>>
    : std::bool_constant<std::is_same_v<std::remove_cv_t<typename T::value_type>, T> ||
                         sendable_v<typename T::value_type>> {};
template <class T>
struct sendable_elements<std::unique_ptr<T>> : std::bool_constant<sendable_v<T>> {};
template <class T>
struct sendable_elements<std::shared_ptr<T>> : std::bool_constant<sendable_v<T>> {};

template <class T>
struct sendable
    : std::bool_constant<cereal::traits::is_output_serializable<T, output_archive>::value &&
                         cereal::traits::is_input_serializable<T, input_archive>::value &&
                         sendable_elements<T>::value> {};
template <class A, class B>
struct sendable<std::pair<A, B>> : std::bool_constant<sendable_v<A> && sendable_v<B>> {};
template <class... T>
struct sendable<std::tuple<T...>> : std::bool_constant<(sendable_v<T> && ...)> {};
template <class... T>
struct sendable<std::variant<T...>> : std::bool_constant<(sendable_v<T> && ...)> {};

template <class T>
struct sendable<T*> : std::false_type {};  // an address means nothing in another process

template <class T>
inline constexpr bool always_false = false;

template <class T>
consteval bool require_sendable();

template <class T>
struct is_product : std::false_type {};  ///< sendable through its members, not its elements
template <class A, class B>
struct is_product<std::pair<A, B>> : std::true_type {};
template <class... T>
struct is_product<std::tuple<T...>> : std::true_type {};
template <class... T>
struct is_product<std::variant<T...>> : std::true_type {};

// The part of a value that require_sendable looks into, by overload on the value's kind.
template <class T>
consteval bool require_element_sendable(T*)
  requires requires { typename T::value_type; }
{
  return require_sendable<typename T::value_type>();
}
template <class T>
consteval bool require_element_sendable(std::unique_ptr<T>*) {
  return require_sendable<T>();
}
template <class T>
consteval bool require_element_sendable(std::shared_ptr<T>*) {
  return require_sendable<T>();
}

template <class A, class B>
consteval bool require_element_sendable(std::pair<A, B>*) {
  return require_sendable<A>() && require_sendable<B>();
}
template <class... T>
consteval bool require_element_sendable(std::tuple<T...>*) {
  return (require_sendable<T>() && ...);
}
template <class... T>
consteval bool require_element_sendable(std::variant<T...>*) {
  return (require_sendable<T>() && ...);
}

/// True when T can be sent. Otherwise a compile error about the innermost part that cannot (the
/// `widget` of a std::map<int, widget>), named in its "with T = ..." line.
template <class T>
consteval bool require_sendable() {
  using U = std::remove_cv_t<T>;
  if constexpr (sendable_v<U>) {
    return true;
  } else if constexpr (std::is_pointer_v<U>) {
    static_assert(always_false<T>,
                  "forkpool: a pointer cannot be sent to another process (the address means "
                  "nothing there); send the value, or a std::unique_ptr to it");
    return false;
  } else if constexpr (is_product<U>::value || !sendable_elements<U>::value) {
    return require_element_sendable(static_cast<U*>(nullptr));
  } else {
    static_assert(sendable_v<T>,
                  "forkpool: this task argument or result type cannot be sent to a worker (it "
                  "is the T in 'with T = ...' above); give it a member "
                  "`template <class Archive> void serialize(Archive& a) { a(field1, field2); }`, "
                  "or save/load functions as cereal's documentation shows");
    return false;
  }
}

/// require_sendable for a result type; a void result sends nothing.
template <class R>
consteval bool require_sendable_result() {
  if constexpr (std::is_void_v<R>) {
    return true;
  } else {
    return require_sendable<R>();
  }
}

}  // namespace forkpool::detail
