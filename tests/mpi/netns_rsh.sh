#!/usr/bin/env bash
# Open MPI's rsh agent for two_hosts.sh: "netns_rsh.sh HOST COMMAND..." runs COMMAND on HOST,
# which is a network namespace of that name with a UTS namespace of its own (hostname HOST).
set -u
host=$1
shift
while [ "${1:-}" != "" ] && [ "${1#-}" != "$1" ]; do shift; done  # ssh-style options, if any
exec ip netns exec "$host" unshare --uts sh -c 'hostname "$0"; exec sh -c "$*"' "$host" "$@"
