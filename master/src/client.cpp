#include "forkpool/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "forkpool/detail/client_protocol.hpp"
#include "forkpool/detail/unique_fd.hpp"
#include "forkpool/errors.hpp"
#include "pool_link.hpp"
#include "socket_trust.hpp"
#include "task_engine.hpp"
#include "wire_exception.hpp"

namespace forkpool {
namespace {

using detail::client_request;
using detail::master_reply;

bool read_all(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

detail::unique_fd connect_to(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path)
    throw connection_error("socket path too long: " + path);
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  detail::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw connection_error("cannot connect to forkpool-master at " + path + ": " +
                           std::strerror(errno));
  // Before anything is sent: the task's name and arguments are for our own master only.
  if (const std::string why = detail::why_peer_not_trusted(fd.get()); !why.empty())
    throw connection_error("refusing forkpool-master at " + path + ": " + why);
  return fd;
}

}  // namespace

std::string default_socket_path() {
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime)
    return std::string(runtime) + "/forkpool.sock";
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = tmp != nullptr && *tmp == '/' ? tmp : "/tmp";
  return base + "/forkpool-" + std::to_string(::getuid()) + "/forkpool.sock";
}

struct client::impl {
  std::string path;
  detail::unique_fd socket;
  std::shared_ptr<detail::pool_link> link = std::make_shared<detail::pool_link>();
  std::atomic<std::uint64_t> next_id{1};
  std::mutex write_mutex;
  std::mutex pending_mutex;
  std::unordered_map<std::uint64_t, std::shared_ptr<detail::task_state>> calls;
  std::unordered_map<std::uint64_t, std::promise<master_reply>> controls;
  std::string lost;  ///< why the connection is gone; empty while it is up (pending_mutex)
  std::condition_variable connection_lost;  ///< `lost` was set
  std::thread reader;
  std::mutex connect_mutex;                  ///< one thread at a time makes a new connection
  std::atomic<bool> connection_gone{false};  ///< `lost` is set: the next call reconnects

  /// A connection that was lost is made again (a master serves the socket again after a
  /// restart); throws connection_error while none does. The calls the old one held have failed.
  void ensure_connected() {
    if (!connection_gone.load(std::memory_order_acquire)) return;  // every call's path: no lock
    std::lock_guard connecting(connect_mutex);
    {
      std::lock_guard lock(pending_mutex);
      if (lost.empty()) return;
    }
    if (reader.joinable()) reader.join();  // it has failed what the old connection held
    detail::unique_fd fresh = connect_to(path);
    {
      std::lock_guard lock(write_mutex);
      socket = std::move(fresh);
    }
    {
      std::lock_guard lock(pending_mutex);
      lost.clear();
    }
    connection_gone.store(false, std::memory_order_release);
    reader = std::thread([this] { read_replies(); });
  }

  void send(const client_request& request) {
    detail::byte_buffer bytes;
    detail::append_message(bytes, request);
    {
      std::lock_guard lock(write_mutex);
      if (write_all(socket.get(), bytes.data(), bytes.size())) return;
    }
    // The master may have said why it hung up (a refused connection) just before: the reader
    // is about to see it, with the end of the stream.
    std::unique_lock lock(pending_mutex);
    connection_lost.wait_for(lock, std::chrono::seconds(2), [&] { return !lost.empty(); });
    throw connection_error(lost.empty() ? "lost the connection to forkpool-master at " + path
                                        : lost);
  }

  // The reader thread: completes futures as replies arrive; on EOF fails what is left.
  void read_replies() {
    std::string why = "forkpool-master closed the connection";
    for (;;) {
      std::array<std::byte, detail::kLengthPrefix> prefix;
      if (!read_all(socket.get(), prefix.data(), prefix.size())) break;
      const std::uint32_t length = detail::read_length(prefix);
      if (length > detail::kDefaultMaxMessage) {
        why = "forkpool-master sent an oversized message";
        break;
      }
      detail::byte_buffer payload(length);
      if (!read_all(socket.get(), payload.data(), payload.size())) break;
      auto reply = detail::decode_message<master_reply>(payload);
      if (!reply) {
        why = "forkpool-master sent a message that does not decode";
        break;
      }
      if (reply->id == 0 && reply->kind == master_reply::kind_t::error) {  // about the connection
        why = "forkpool-master closed the connection: " + reply->error.message;
        break;
      }
      deliver(std::move(*reply));
    }
    fail_everything(why);
  }

  void deliver(master_reply reply) {
    std::unique_lock lock(pending_mutex);
    if (auto it = controls.find(reply.id); it != controls.end()) {
      it->second.set_value(std::move(reply));
      controls.erase(it);
      return;
    }
    auto it = calls.find(reply.id);
    if (it == calls.end()) return;
    std::shared_ptr<detail::task_state> task = std::move(it->second);
    calls.erase(it);
    lock.unlock();
    if (reply.kind == master_reply::kind_t::result) {
      detail::task_engine::succeed_from(*task, std::span<const std::byte>(reply.result));
    } else {
      task->fail(detail::to_exception(std::move(reply.error), *task));
    }
  }

  void fail_everything(const std::string& why) {
    std::unordered_map<std::uint64_t, std::shared_ptr<detail::task_state>> orphans;
    std::unordered_map<std::uint64_t, std::promise<master_reply>> waiting;
    {
      std::lock_guard lock(pending_mutex);
      lost = why;
      connection_gone.store(true, std::memory_order_release);
      orphans.swap(calls);
      waiting.swap(controls);
    }
    connection_lost.notify_all();
    const auto error = std::make_exception_ptr(connection_error(why));
    for (auto& [id, task] : orphans) task->fail(error);
    for (auto& [id, promise] : waiting) promise.set_exception(error);
  }

  master_reply control(client_request::kind_t kind) {
    ensure_connected();
    client_request request;
    request.kind = kind;
    request.id = next_id++;
    std::future<master_reply> reply;
    {
      std::lock_guard lock(pending_mutex);
      if (!lost.empty()) throw connection_error(lost);
      reply = controls[request.id].get_future();
    }
    send(request);
    return reply.get();
  }
};

client::client() : client(default_socket_path()) {}

client::client(std::string socket_path) : impl_(std::make_unique<impl>()) {
  impl_->path = std::move(socket_path);
  // The default place is shared ground (/tmp): another user may have made it first.
  if (impl_->path == default_socket_path()) {
    if (const std::string why =
            detail::why_directory_not_private(detail::directory_of(impl_->path));
        !why.empty())
      throw connection_error("refusing the default forkpool-master socket: " + why);
  }
  impl_->socket = connect_to(impl_->path);
  impl_->reader = std::thread([this] { impl_->read_replies(); });
}

client::~client() {
  std::lock_guard connecting(impl_->connect_mutex);
  ::shutdown(impl_->socket.get(), SHUT_RDWR);          // the reader sees EOF and fails what is left
  if (impl_->reader.joinable()) impl_->reader.join();  // not after a failed reconnection
}

void client::send_call(const std::shared_ptr<detail::task_state>& task) {
  impl_->ensure_connected();
  client_request request;
  request.kind = client_request::kind_t::submit;
  request.id = impl_->next_id++;
  request.task = task->name;
  request.argument_signature = task->argument_signature;
  request.result_signature = task->result_signature;
  request.arguments = task->arguments.take();  // sent once; the task keeps no copy
  {
    std::lock_guard lock(impl_->pending_mutex);
    if (!impl_->lost.empty()) throw connection_error(impl_->lost);
    task->id = request.id;
    impl_->calls.emplace(request.id, task);
    impl_->link->submitted.fetch_add(1, std::memory_order_relaxed);
  }
  try {
    impl_->send(request);
  } catch (...) {
    std::lock_guard lock(impl_->pending_mutex);
    impl_->calls.erase(request.id);
    throw;
  }
}

pool_stats client::stats() { return impl_->control(client_request::kind_t::stats).stats; }

master_info client::info() { return impl_->control(client_request::kind_t::info).info; }

void client::restart_workers() { impl_->control(client_request::kind_t::restart_workers); }

const std::string& client::socket_path() const noexcept { return impl_->path; }

const std::shared_ptr<detail::pool_link>& client::link() const noexcept { return impl_->link; }

}  // namespace forkpool
