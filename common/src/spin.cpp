#include "forkpool/detail/spin.hpp"

#include <cstdlib>

namespace forkpool::detail {

std::chrono::nanoseconds spin_time(std::chrono::nanoseconds usual) noexcept {
  static const long long configured = [] {
    const char* value = std::getenv("FORKPOOL_SPIN_US");
    if (value == nullptr || *value == '\0') return -1LL;
    char* end = nullptr;
    const long long us = std::strtoll(value, &end, 10);
    return *end == '\0' && us >= 0 ? us : -1LL;  // a malformed value keeps the defaults
  }();
  if (configured < 0) return usual;
  return std::chrono::microseconds(configured);
}

}  // namespace forkpool::detail
