#include "parking_lot.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace forkpool::detail {
namespace {

constexpr std::size_t kSpots = 64;  // a power of two

struct alignas(64) padded_spot : parking_spot {};

// Never destroyed: a task may be waited for or finished after static destruction began.
std::array<padded_spot, kSpots>& spots() {
  static auto* const table = new std::array<padded_spot, kSpots>;
  return *table;
}

// Made at load time, so that it exists before any worker is forked (see registry.cpp).
[[maybe_unused]] auto& spots_made_at_load = spots();

}  // namespace

parking_spot& parking_spot_for(const void* address) noexcept {
  // Task states are 64-byte aligned blocks: the bits above the alignment tell them apart.
  const auto bits = reinterpret_cast<std::uintptr_t>(address) >> 6;
  return spots()[(bits ^ (bits >> 6)) & (kSpots - 1)];
}

}  // namespace forkpool::detail
