#!/usr/bin/env bash
# The worker farm end to end: start forkpool-master with the example plugin, run the client
# against it (200 prime-counting jobs with a progress bar), show `forkpool-master status`, and
# stop the master with SIGTERM. Run from the checkout after building into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/forkpool-demo-XXXXXX)
socket=$dir/master.sock
build/forkpool-master --workers 2 --tasks build/examples/plugin/libexample_tasks.so --socket "$socket" &
master=$!
trap 'kill -TERM $master 2>/dev/null; wait $master 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
build/examples/client --socket "$socket" --jobs 200
build/forkpool-master status --socket "$socket"
