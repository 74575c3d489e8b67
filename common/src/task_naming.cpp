// Naming tasks in errors: the registered names nearest to a mistyped one, and a function that
// was never registered.
#include <dlfcn.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/type_name.hpp"

namespace forkpool::detail {
namespace {

// Levenshtein distance, one row at a time.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The name after its last '.' or "::": "demo.greet" and "greet" are near.
std::string_view last_part(std::string_view name) {
  const std::size_t dot = name.find_last_of(".:");
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace

std::vector<std::string> nearest_task_names(std::string_view name, std::size_t most) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (std::string& candidate : registered_task_names()) {
    const std::size_t whole = edit_distance(name, candidate);
    const std::size_t tail = edit_distance(last_part(name), last_part(candidate));
    const std::size_t distance = std::min(whole, tail);
    // Near: a few edits, fewer for short names ("add" is not near "sub").
    if (distance <= std::max<std::size_t>(1, std::min<std::size_t>(3, name.size() / 3)))
      scored.emplace_back(distance, std::move(candidate));
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> names;
  for (auto& [distance, candidate] : scored) {
    if (names.size() == most) break;
    names.push_back(std::move(candidate));
  }
  return names;
}

std::string unknown_task_message(std::string_view name) {
  std::string message = "no task is registered as '" + std::string(name) + "'";
  const std::vector<std::string> near = nearest_task_names(name);
  if (!near.empty()) {
    message += "; did you mean ";
    for (std::size_t i = 0; i < near.size(); ++i)
      message += (i == 0 ? "'" : i + 1 == near.size() ? "' or '" : "', '") + near[i];
    message += "'?";
  } else {
    message += " (" + std::to_string(registered_task_count()) + " tasks are registered)";
  }
  return message;
}

std::string describe_function(erased_function function, std::string_view type) {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(function), &info) != 0 && info.dli_sname != nullptr &&
      info.dli_saddr == reinterpret_cast<void*>(function))
    return "the function " + demangle(info.dli_sname);
  return "a function of type " + std::string(type);
}

std::string unregistered_function_message(erased_function function, std::string_view type) {
  std::string message = describe_function(function, type) + " is not registered as a task";
  if (!init_has_run())
    return message +
           " yet: forkpool::init has not run, so this is static initialisation (a global's "
           "constructor), where tasks registered in other files may not be yet (C++ leaves the "
           "order open); submit from main(), after forkpool::init";
  return message + ": add FORKPOOL_TASK(fn) at namespace scope, next to its definition";
}

}  // namespace forkpool::detail
