// Large page work on two threads: the pieces cover the range once, the split falls on a unit, a
// failure in either half is reported, and small work or one CPU keeps it on the calling thread.
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "process_memory.hpp"
#include "two_halves.hpp"

using namespace forkpool::detail;

namespace {

struct piece {
  std::size_t at, length;
  std::thread::id thread;
};

std::vector<piece> pieces_of(std::size_t bytes, std::size_t unit, bool split) {
  std::mutex mutex;
  std::vector<piece> pieces;
  in_two_halves(
      bytes, unit,
      [&](std::size_t at, std::size_t length) {
        std::lock_guard lock(mutex);
        pieces.push_back({at, length, std::this_thread::get_id()});
      },
      split);
  return pieces;
}

std::vector<std::byte> pattern(std::size_t bytes) {
  std::vector<std::byte> out(bytes);
  for (std::size_t i = 0; i < bytes; ++i)
    out[i] = static_cast<std::byte>((i * 131 + i / 4093) & 0xff);
  return out;
}

std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

}  // namespace

TEST_SUITE_BEGIN("engine");

TEST_CASE(
    "two_halves: split in two the pieces cover the range once and the second runs elsewhere") {
  const std::size_t bytes = (std::size_t{24} << 20) + 4097;
  std::vector<piece> pieces = pieces_of(bytes, kHugePageBytes, true);
  REQUIRE(pieces.size() == 2);
  if (pieces[0].at != 0) std::swap(pieces[0], pieces[1]);
  CHECK(pieces[0].at == 0);
  CHECK(pieces[0].length % kHugePageBytes == 0);
  CHECK(pieces[1].at == pieces[0].length);
  CHECK(pieces[0].length + pieces[1].length == bytes);
  CHECK(pieces[0].thread == std::this_thread::get_id());
  CHECK(pieces[1].thread != std::this_thread::get_id());
}

TEST_CASE("two_halves: unsplit or too small to divide on the unit it is one piece on this thread") {
  for (const auto& [bytes, split] :
       {std::pair{std::size_t{24} << 20, false}, std::pair{kHugePageBytes + 5, true}}) {
    const std::vector<piece> pieces = pieces_of(bytes, std::size_t{4} << 20, split);
    REQUIRE(pieces.size() == 1);
    CHECK(pieces[0].at == 0);
    CHECK(pieces[0].length == bytes);
    CHECK(pieces[0].thread == std::this_thread::get_id());
  }
}

TEST_CASE("two_halves: small work or a program confined to one CPU is not worth a thread") {
  CHECK_FALSE(worth_two_threads(kSplitBytes - 1));
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    const bool confined = ::sched_setaffinity(0, sizeof one, &one) == 0;
    ::_exit(confined && !worth_two_threads(std::size_t{64} << 20) ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("two_halves: a large read of another process's memory arrives intact") {
  const std::vector<std::byte> source = pattern((std::size_t{24} << 20) + 4097);
  const pid_t child = ::fork();  // holds a copy of `source` at the same address
  REQUIRE(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  std::vector<std::byte> copy(source.size());
  const int error = read_process_memory(child, address_of(source.data()), copy.data(), copy.size());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(error == 0);
  CHECK(copy == source);
}

TEST_CASE("two_halves: a read whose second half is not mapped reports EFAULT") {
  const std::size_t bytes = std::size_t{32} << 20;
  void* mapping =
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mapping != MAP_FAILED);
  auto* first = static_cast<std::byte*>(mapping);
  REQUIRE(::munmap(first + bytes - (std::size_t{4} << 20), std::size_t{4} << 20) == 0);
  std::vector<std::byte> copy(bytes);
  CHECK(read_process_memory(::getpid(), address_of(first), copy.data(), bytes) == EFAULT);
  ::munmap(first, bytes - (std::size_t{4} << 20));
}
