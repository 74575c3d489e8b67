#!/usr/bin/env bash
# Rank 0 of an mpi_pool ends while its hosts run calls; every agent and every worker must be gone
# within a bound, and nothing left behind. Run inside isolated.sh (tests/CMakeLists.txt).
#   rank0_ends.sh kill|throw|sigterm MPIEXEC TEST_PROGRAM
#  kill:    rank 0 is SIGKILLed (under --enable-recovery, so Open MPI does not end the job for
#           us): the agents notice the silence and leave.
#  throw:   an exception escapes rank 0's main: the job is aborted at once.
#  sigterm: every rank gets SIGTERM at once, as `scancel` or Slurm's time limit sends it: the
#           calls running finish, the waiting ones never start, the program ends.
#  mpiexec: mpiexec gets SIGTERM. Open MPI 4.1 passes it on to the ranks only at the end of its
#           grace (odls_base_sigkill_timeout), just before SIGKILL: nothing drains, but nothing
#           may be left either.
set -u
mode=$1 mpiexec=$2 program=$3
work=$(mktemp -d /tmp/rank0-ends.XXXXXX)
trap 'rm -rf "$work"' EXIT
pid_file=$work/pids notes=$work/notes output=$work/output
launch=("$mpiexec" --oversubscribe --bind-to none -n 3)
case $mode in
  kill) launch+=(--enable-recovery "$program" --no-colors --test-case='*rank 0 dies*') ;;
  throw) launch+=("$program"); export FORKPOOL_TEST_RANK0_SCENARIO=throw ;;
  sigterm | mpiexec) launch+=("$program"); export FORKPOOL_TEST_RANK0_SCENARIO=sigterm ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
FORKPOOL_TEST_PID_FILE=$pid_file FORKPOOL_TEST_NOTES=$notes "${launch[@]}" > "$output" 2>&1 &
launcher=$!
count() { grep -c "^$1\$" "$notes" 2> /dev/null || true; }
fail() {
  echo "FAILED: $*"
  tail -n 30 "$output"
  kill -9 $launcher $(cat "$pid_file" 2> /dev/null) 2> /dev/null
  exit 1
}
# Wait (bounded) for rank 0 to name the processes it is about to leave behind.
for _ in $(seq 300); do [ -s "$pid_file" ] && break; sleep 0.1; done
[ -s "$pid_file" ] || fail "rank 0 never wrote its hosts' pids"
pids=$(cat "$pid_file")
echo "agents and workers: $(echo $pids)"
if [ "$mode" = sigterm ] || [ "$mode" = mpiexec ]; then
  for _ in $(seq 300); do [ "$(count started)" -ge 4 ] && break; sleep 0.1; done
  [ "$(count started)" -eq 4 ] || fail "expected 4 calls running, $(count started) started"
  if [ "$mode" = mpiexec ]; then
    kill -TERM $launcher
  else
    ranks=$(pgrep -P $launcher)  # rank 0 and the agents: mpiexec's children
    kill -TERM $ranks
  fi
fi
for _ in $(seq 300); do  # 30 s: agents leave after host_timeout (1 s in the kill case)
  alive=""
  for pid in $pids; do kill -0 "$pid" 2> /dev/null && alive="$alive $pid"; done
  [ -z "$alive" ] && break
  sleep 0.1
done
[ -z "$alive" ] || fail "still alive 30 s after rank 0 ended:$alive"
for _ in $(seq 300); do kill -0 $launcher 2> /dev/null || break; sleep 0.1; done
kill -0 $launcher 2> /dev/null && fail "mpiexec has not returned"
wait $launcher
echo "mpiexec returned $?"
case $mode in
  throw)
    grep -q "aborting the MPI job" "$output" || fail "rank 0 did not say it aborts the job" ;;
  sigterm)
    grep -q "SIGTERM: draining (4 calls in flight" "$output" || fail "rank 0 did not drain"
    [ "$(count finished)" -eq 4 ] || fail "$(count finished) of the 4 running calls finished"
    [ "$(count started)" -eq 4 ] || fail "a waiting call started after SIGTERM" ;;
esac
echo "every agent and worker is gone"
