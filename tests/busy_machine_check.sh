#!/usr/bin/env bash
# Flakiness check for a busy machine: runs the whole plain suite RUNS times in a row (default 2)
# while two CPU hogs at normal priority keep every core of a 2-core machine busy, then ends the
# hogs by pid. Tests must wait for states by polling with a bound, never assume an idle machine;
# this is where one that does not shows itself. Not part of the default CI run (it takes twice
# the suite's time).
#
#   bash tests/busy_machine_check.sh [BUILD_DIR] [RUNS]
set -uo pipefail
build=${1:-build}
runs=${2:-2}
[ -x "$build/tests/forkpool_tests" ] || { echo "build the tests first: cmake --build $build"; exit 2; }

hogs=()
for _ in 1 2; do
  (while :; do :; done) &
  hogs+=($!)
done
trap 'kill "${hogs[@]}" 2>/dev/null; wait "${hogs[@]}" 2>/dev/null' EXIT
echo "CPU hogs running: pids ${hogs[*]}"

passed=0 failed=0
for run in $(seq "$runs"); do
  log=$(mktemp)
  if (cd "$build" && ctest -j"$(nproc)" --output-on-failure) >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "run $run: $(grep -E 'tests passed' "$log")"
  else
    failed=$((failed + 1))
    echo "run $run: $(grep -E 'tests passed' "$log")"
    sed -n '/The following tests FAILED/,$p' "$log"
  fi
  rm -f "$log"
done
echo "busy-machine runs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
