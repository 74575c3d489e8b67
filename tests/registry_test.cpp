// The task registry and type signatures.
#include <doctest/doctest.h>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/type_name.hpp"
#include "test_tasks.hpp"

using namespace forkpool::detail;

TEST_CASE("registry: tasks are found by name and by function" * doctest::timeout(5)) {
  const task_entry* by_name = find_task("demo.greet");
  REQUIRE(by_name != nullptr);
  CHECK(by_name->argument_types == "(std::__cxx11::basic_string<char>)");
  const task_entry* by_function = find_task(reinterpret_cast<erased_function>(&test_tasks::greet));
  CHECK(by_function == by_name);
  CHECK(find_task("no.such.task") == nullptr);
}

TEST_CASE("registry: FORKPOOL_TASK uses the function's own name" * doctest::timeout(5)) {
  const task_entry* entry = find_task("cube");
  REQUIRE(entry != nullptr);
  CHECK((entry->function == reinterpret_cast<erased_function>(&cube)));
}

namespace {
int never_registered(int x) { return x; }
}  // namespace

TEST_CASE(
    "registry: lookups alternating between tasks each find their own by function and by name" *
    doctest::timeout(5)) {
  const auto greet = reinterpret_cast<erased_function>(&test_tasks::greet);
  const auto cube_fn = reinterpret_cast<erased_function>(&cube);
  const auto stranger = reinterpret_cast<erased_function>(&never_registered);
  for (int round = 0; round < 3; ++round) {
    REQUIRE(find_task(greet) != nullptr);
    CHECK(find_task(greet)->name == "demo.greet");
    CHECK(find_task(stranger) == nullptr);  // after a hit: not answered from the last one found
    REQUIRE(find_task(cube_fn) != nullptr);
    CHECK(find_task(cube_fn)->name == "cube");
    CHECK(find_task(nullptr) == nullptr);
    REQUIRE(find_task("cube") != nullptr);
    CHECK(find_task("cube")->name == "cube");
    CHECK(find_task("cub") == nullptr);  // a prefix of the name found last is another name
    CHECK(find_task("cubes") == nullptr);
    CHECK(find_task("demo.greet") == find_task(greet));
  }
}

TEST_CASE("signatures: differ by type and order and count but not by references or const" *
          doctest::timeout(5)) {
  CHECK(signature_of<int>() != signature_of<long>());
  CHECK(signature_of<int, std::string>() != signature_of<std::string, int>());
  CHECK(signature_of<int>() != signature_of<int, int>());
  CHECK(signature_of<>() != signature_of<int>());
  CHECK(signature_of<wire_type_t<const char(&)[4]>>() == signature_of<std::string>());
  CHECK(signature_of<wire_type_t<std::string_view>>() == signature_of<std::string>());
  CHECK(signature_of<wire_type_t<const int&>>() == signature_of<int>());
}
