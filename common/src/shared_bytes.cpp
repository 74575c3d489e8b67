#include "forkpool/shared_bytes.hpp"

#include <cstring>

#include "forkpool/detail/archive.hpp"
#include "shared_area.hpp"

namespace forkpool {
namespace {

// Bytes of the caller's own, or of a worker that has no shared area.
class heap_block final : public detail::shared_block {
 public:
  explicit heap_block(std::size_t size)
      : shared_block(nullptr, size), storage_(new std::byte[size]) {
    data = storage_.get();
    detail::prepare_destination(data, size);
  }

 private:
  std::unique_ptr<std::byte[]> storage_;
};

// How a shared_bytes travels: its bytes, or (in a worker's reply) its index in the reply's
// table of shared blocks.
enum carried : std::uint8_t { carried_bytes = 0, carried_name = 1 };

std::shared_ptr<detail::shared_block> new_block(std::size_t size) {
  const detail::worker_sharing& sharing = detail::this_worker_sharing();
  if (sharing.area && sharing.area->capacity() != 0) return sharing.area->allocate(size);
  return std::make_shared<heap_block>(size);
}

}  // namespace

static_assert(shared_bytes::kSharedBuffersPerWorker == detail::kSharedBlocks);

shared_bytes::shared_bytes(std::shared_ptr<detail::shared_block> block) noexcept
    : block_(std::move(block)), data_(block_->data), size_(block_->size) {}

shared_bytes::shared_bytes(std::size_t size) {
  if (size == 0) return;
  *this = shared_bytes(new_block(size));
}

shared_bytes shared_bytes::copy_of(std::span<const std::byte> bytes) {
  shared_bytes copy(bytes.size());
  if (!bytes.empty()) std::memcpy(copy.data(), bytes.data(), bytes.size());
  return copy;
}

bool shared_bytes::in_shared_memory() const noexcept {
  return block_ != nullptr && dynamic_cast<const heap_block*>(block_.get()) == nullptr;
}

void save(detail::output_archive& archive, const shared_bytes& value) {
  const detail::worker_sharing& sharing = detail::this_worker_sharing();
  if (value.block_ != nullptr && sharing.area && &archive.sink() == sharing.reply_sink) {
    if (const std::optional<std::uint32_t> index = sharing.area->hand_over(*value.block_)) {
      archive(std::uint8_t{carried_name}, *index);
      return;
    }
  }
  archive(std::uint8_t{carried_bytes},
          cereal::make_size_tag(static_cast<cereal::size_type>(value.size_)));
  archive.saveBinary(value.data_, value.size_);
}

void load(detail::input_archive& archive, shared_bytes& value) {
  std::uint8_t how = 0;
  archive(how);
  if (how == carried_name) {
    std::uint32_t index = 0;
    archive(index);
    detail::shared_receipt* receipt = archive.shared();
    if (receipt == nullptr || index >= receipt->blocks.size())
      throw detail::decode_failure("a shared buffer the reply does not name");
    value = shared_bytes(receipt->blocks[index]);
    return;
  }
  if (how != carried_bytes) throw detail::decode_failure("a shared buffer of an unknown form");
  const std::size_t size = detail::checked_size(archive, 1);
  shared_bytes bytes;
  if (size != 0) bytes = shared_bytes(std::make_shared<heap_block>(size));
  archive.loadBinary(bytes.data_, size);
  value = std::move(bytes);
}

}  // namespace forkpool
