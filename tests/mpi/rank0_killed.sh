#!/usr/bin/env bash
# Rank 0 of an mpi_pool is killed with SIGKILL while its hosts run calls (under --enable-recovery,
# so Open MPI does not end the job for us): every agent and every worker must be gone within a
# bound, by the agents noticing the silence. Nothing may be left behind.
#   rank0_killed.sh MPIEXEC TEST_PROGRAM
set -u
mpiexec=$1 program=$2
pid_file=$(mktemp /tmp/rank0-killed-pids.XXXXXX)
trap 'rm -f "$pid_file"' EXIT
FORKPOOL_TEST_PID_FILE=$pid_file "$mpiexec" --oversubscribe --bind-to none --enable-recovery -n 3 \
  "$program" --no-colors --test-case='*rank 0 dies*' > /dev/null 2>&1 &
launcher=$!
# Wait (bounded) for rank 0 to write the pids it is about to leave behind.
for _ in $(seq 300); do [ -s "$pid_file" ] && break; sleep 0.1; done
[ -s "$pid_file" ] || { echo "rank 0 never wrote its hosts' pids"; kill -9 $launcher; exit 1; }
sleep 0.2  # the file is written whole before rank 0 dies; let the write end
pids=$(cat "$pid_file")
echo "left behind by rank 0: $(echo $pids)"
for _ in $(seq 300); do  # 30 s: agents leave after host_timeout (1 s here)
  alive=""
  for pid in $pids; do kill -0 "$pid" 2> /dev/null && alive="$alive $pid"; done
  [ -z "$alive" ] && break
  sleep 0.1
done
if [ -n "$alive" ]; then
  echo "still alive 30 s after rank 0 died:$alive"
  kill -9 $pids $launcher 2> /dev/null
  exit 1
fi
wait $launcher 2> /dev/null
echo "every agent and worker is gone"
