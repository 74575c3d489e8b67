# Run at build time (POST_BUILD of forkpool_tests): adds one CTest test per case of the doctest
# suite SUITE, named "METHOD: <case>", run with ENVIRONMENT and failing on output that matches
# FAILURE_PATTERN, to CTEST_FILE. doctest's own
# doctest_discover_tests can filter only by case name, not by suite.
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --test-suite=${SUITE} --list-test-cases --no-version
  OUTPUT_VARIABLE output
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "listing the cases of ${TEST_EXECUTABLE} failed (${result}):\n${output}")
endif()
string(REPLACE "\n" ";" lines "${output}")
set(script "")
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^=+$" OR line MATCHES "^\\[doctest\\]")
    continue()
  endif()
  set(name "${METHOD}: ${line}")
  string(APPEND script
    "add_test([==[${name}]==] \"${TEST_EXECUTABLE}\" [==[--test-case=${line}]==])\n"
    "set_tests_properties([==[${name}]==] PROPERTIES TIMEOUT 120 ENVIRONMENT [==[${ENVIRONMENT}]==]"
    " FAIL_REGULAR_EXPRESSION [==[${FAILURE_PATTERN}]==])\n")
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
