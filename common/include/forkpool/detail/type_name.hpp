// Compile-time type names and signature hashes. cereal's binary archive is not self-describing,
// so a call carries a hash of its argument types and the worker compares it with the task's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace forkpool::detail {

template <class T>
constexpr std::string_view type_name() noexcept {
  // g++: "... type_name() [with T = int; std::string_view = ...]"
  constexpr std::string_view text = __PRETTY_FUNCTION__;
  constexpr auto start = text.find("T = ") + 4;
  constexpr auto end = text.find_first_of(";]", start);
  return text.substr(start, end - start);
}

constexpr std::uint64_t fnv1a(std::string_view text, std::uint64_t hash) noexcept {
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

/// Hash of a list of types; differs for any difference in the types or their order.
template <class... T>
constexpr std::uint64_t signature_of() noexcept {
  std::uint64_t hash = fnv1a("(", 14695981039346656037ull);
  ((hash = fnv1a(",", fnv1a(type_name<T>(), hash))), ...);
  return fnv1a(")", hash);
}

/// "(int, std::string)" for error messages.
template <class... T>
std::string signature_text() {
  std::string text = "(";
  ((text += std::string(type_name<T>()) + ", "), ...);
  if (text.size() > 1) text.resize(text.size() - 2);
  return text + ")";
}

/// type_name as a std::string, for a pointer to a function that makes the text only when an
/// error needs it.
template <class T>
std::string type_name_text() {
  return std::string(type_name<T>());
}

/// The type a value travels as: string literals, C strings and views travel as std::string.
template <class T>
struct wire_type_of {
  using type = T;
};
template <>
struct wire_type_of<const char*> {
  using type = std::string;
};
template <>
struct wire_type_of<char*> {
  using type = std::string;
};
template <>
struct wire_type_of<std::string_view> {
  using type = std::string;
};
template <class T>
using wire_type_t = typename wire_type_of<std::decay_t<T>>::type;

/// Demangles a typeid name ("St13runtime_error" -> "std::runtime_error").
std::string demangle(const char* mangled);

}  // namespace forkpool::detail
