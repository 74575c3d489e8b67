// Calls that arrive already encoded and whose results stay encoded: what forkpool-master
// forwards between its clients and its pool. Engine only; process_pool lets this in as a friend.
#pragma once

#include <cstdint>
#include <string>

#include "forkpool/detail/make_call.hpp"
#include "forkpool/future.hpp"
#include "forkpool/process_pool.hpp"

namespace forkpool::detail {

/// A result kept encoded, for whoever decodes it later, with room around it for the message
/// that carries it on: forkpool-master writes its reply's header in front and its last fields
/// behind (frame_result_reply), so the result is copied once, out of the worker's ring.
struct encoded_result {
  byte_buffer bytes;  ///< `room.before` bytes of room, then the result
};

/// Room around an encoded result: bytes left in front of it, and capacity reserved after it.
struct result_room {
  std::size_t before = 0;
  std::size_t after = 0;
};

template <>
class future_state<encoded_result> final : public task_state {
 public:
  future_state(std::shared_ptr<pool_link> link, result_room room)
      : task_state(std::move(link)), room_(room) {}
  encoded_result value(bool take) {
    if (take) return std::move(value_);
    return value_;
  }

 protected:
  void store_value(const payload_view& encoded) override {
    byte_buffer& bytes = value_.bytes;
    if (encoded.lent.empty()) {
      bytes.reserve(room_.before + encoded.bytes.size() + room_.after);
      bytes.resize(room_.before);
      bytes.insert(bytes.end(), encoded.bytes.begin(), encoded.bytes.end());
      return;
    }
    input_archive all(encoded);  // the copied bytes and the lent runs, in order
    const std::size_t size = all.remaining();
    bytes.reserve(room_.before + size + room_.after);
    prepare_destination(bytes.data(), bytes.capacity());  // so the zeroing takes no faults
    bytes.resize(room_.before + size);
    all.loadBinary(bytes.data() + room_.before, size);
  }

 private:
  const result_room room_;
  encoded_result value_;
};

struct encoded_calls {
  /// Submits `arguments`, encoded as for submit<R>(name, ...), to `pool`; the worker checks the
  /// signatures as it does for a call by name (a map chunk's, with call_kind::map_chunk). The
  /// result comes with `room` around it.
  static future<encoded_result> submit(process_pool& pool, std::string name,
                                       std::uint64_t argument_signature,
                                       std::uint64_t result_signature, byte_buffer arguments,
                                       result_room room, call_kind kind = call_kind::single) {
    auto state = new_call<encoded_result>(pool.link(), std::move(name), kind, argument_signature,
                                          result_signature, room);
    state->arguments = std::move(arguments);
    pool.enqueue(state);
    return future<encoded_result>(std::move(state));
  }
};

}  // namespace forkpool::detail
