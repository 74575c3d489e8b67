#!/usr/bin/env bash
# Runs one mpiexec launch with Open MPI's session directory and shared-memory backing files in a
# directory of its own, removed afterwards: a launch that is killed leaves /dev/shm/vader_segment.*
# and /tmp/ompi.* behind otherwise, which the project's leak check would count.
#   isolated.sh MPIEXEC ARGS...
set -u
scratch=$(mktemp -d /tmp/forkpool-mpi.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export OMPI_MCA_orte_tmpdir_base=$scratch OMPI_MCA_btl_vader_backing_directory=$scratch
"$@"
