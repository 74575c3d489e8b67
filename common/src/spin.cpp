#include "forkpool/detail/spin.hpp"

#include <cstdlib>

namespace forkpool::detail {

std::chrono::nanoseconds spin_time(std::chrono::nanoseconds usual) noexcept {
  const char* value = std::getenv("FORKPOOL_SPIN_US");
  if (value == nullptr || *value == '\0') return usual;
  char* end = nullptr;
  const long long us = std::strtoll(value, &end, 10);
  if (*end != '\0' || us < 0) return usual;  // a malformed value keeps the defaults
  return std::chrono::microseconds(us);
}

}  // namespace forkpool::detail
