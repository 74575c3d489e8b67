#include "forkpool/detail/registry.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace forkpool::detail {
namespace {

struct registry {
  std::shared_mutex mutex;
  // Entries never move once added, so pointers to them stay valid.
  std::map<std::string, std::unique_ptr<task_entry>, std::less<>> by_name;
  std::unordered_map<erased_function, const task_entry*> by_function;
};

std::atomic<bool> init_ran{false};
std::atomic<std::size_t> tasks_at_init{0};

registry& instance() {
  static registry r;  // constructed on first use, so registration order across files is safe
  return r;
}

// Made at load time at the latest. A first use from a thread racing a worker's fork would leave
// the child waiting for good on the guard of `r`, held by a thread the child does not have.
[[maybe_unused]] const bool registry_made_at_load = (instance(), true);

}  // namespace

void register_task(task_entry entry) {
  registry& r = instance();
  std::unique_lock lock(r.mutex);
  if (auto it = r.by_name.find(entry.name); it != r.by_name.end()) {
    if (it->second->function == entry.function) return;
    std::fprintf(stderr, "forkpool: two different functions are registered as task '%s'\n",
                 entry.name.c_str());
    std::abort();
  }
  auto owned = std::make_unique<task_entry>(std::move(entry));
  r.by_function.emplace(owned->function, owned.get());
  r.by_name.emplace(owned->name, std::move(owned));
}

const task_entry* find_task(std::string_view name) noexcept {
  // A worker looks up the name of every call it runs, most often the name it looked up last:
  // one comparison instead of the shared lock and a walk of the map (~250 instructions a call).
  // Entries are never removed or moved (see find_task by function).
  thread_local const task_entry* last = nullptr;
  if (last != nullptr && last->name == name) return last;
  registry& r = instance();
  std::shared_lock lock(r.mutex);
  auto it = r.by_name.find(name);
  if (it == r.by_name.end()) return nullptr;
  last = it->second.get();
  return last;
}

std::size_t registered_task_count() noexcept {
  registry& r = instance();
  std::shared_lock lock(r.mutex);
  return r.by_name.size();
}

void note_init_ran() noexcept {
  tasks_at_init.store(registered_task_count(), std::memory_order_relaxed);
  init_ran.store(true, std::memory_order_release);
}

bool init_has_run() noexcept { return init_ran.load(std::memory_order_acquire); }

std::size_t tasks_registered_at_init() noexcept {
  return tasks_at_init.load(std::memory_order_relaxed);
}

std::vector<std::string> registered_task_names() {
  registry& r = instance();
  std::shared_lock lock(r.mutex);
  std::vector<std::string> names;
  names.reserve(r.by_name.size());
  for (const auto& [name, entry] : r.by_name) names.push_back(name);
  return names;
}

const task_entry* find_task(erased_function function) noexcept {
  // Every submit looks its function up; a loop submits the same one again and again. Entries are
  // never removed or moved (register_task only adds), so the last one this thread found stays
  // valid: found again without the shared lock's two atomic updates and the hash (~120
  // instructions a call).
  thread_local erased_function last_function = nullptr;
  thread_local const task_entry* last_entry = nullptr;
  if (function == last_function && function != nullptr) return last_entry;
  registry& r = instance();
  std::shared_lock lock(r.mutex);
  auto it = r.by_function.find(function);
  if (it == r.by_function.end()) return nullptr;  // not cached: it may be registered later
  last_function = function;
  last_entry = it->second;
  return last_entry;
}

std::optional<std::string> registered_initializer(const std::function<void()>& initializer) {
  if (!initializer) return std::string();
  using plain = void (*)();
  const plain* fn = initializer.target<plain>();
  const task_entry* task = fn ? find_task(reinterpret_cast<erased_function>(*fn)) : nullptr;
  if (task == nullptr) return std::nullopt;
  return task->name;
}

}  // namespace forkpool::detail
