// Calls that arrive already encoded and whose results stay encoded: what forkpool-master
// forwards between its clients and its pool. Engine only; process_pool lets this in as a friend.
#pragma once

#include <cstdint>
#include <string>

#include "forkpool/detail/make_call.hpp"
#include "forkpool/future.hpp"
#include "forkpool/process_pool.hpp"

namespace forkpool::detail {

/// A result kept encoded, for whoever decodes it later (forkpool-master passes it to its client).
struct encoded_result {
  byte_buffer bytes;
};

template <>
class future_state<encoded_result> final : public task_state {
 public:
  using task_state::task_state;
  encoded_result value(bool take) {
    if (take) return std::move(value_);
    return value_;
  }

 protected:
  void store_value(const payload_view& encoded) override {
    if (encoded.lent.empty()) {
      value_.bytes.assign(encoded.bytes.begin(), encoded.bytes.end());
      return;
    }
    input_archive all(encoded);  // the copied bytes and the lent runs, in order
    const std::size_t size = all.remaining();
    value_.bytes.reserve(size);
    prepare_destination(value_.bytes.data(), size);  // so the zeroing below takes no faults
    value_.bytes.resize(size);
    all.loadBinary(value_.bytes.data(), size);
  }

 private:
  encoded_result value_;
};

struct encoded_calls {
  /// Submits `arguments`, encoded as for submit<R>(name, ...), to `pool`; the worker checks the
  /// signatures as it does for a call by name.
  static future<encoded_result> submit(process_pool& pool, std::string name,
                                       std::uint64_t argument_signature,
                                       std::uint64_t result_signature, byte_buffer arguments) {
    auto state = new_call<encoded_result>(pool.link(), std::move(name), frame_kind::call,
                                          argument_signature, result_signature);
    state->arguments = std::move(arguments);
    pool.enqueue(state);
    return future<encoded_result>(std::move(state));
  }
};

}  // namespace forkpool::detail
