#!/usr/bin/env bash
# Two hosts on one machine: two network namespaces joined by a veth pair, each rank's host with a
# hostname of its own (a UTS namespace), Open MPI over TCP on that pair only, its daemon on the
# second host started by an rsh agent that enters the namespace (netns_rsh.sh). Rank 0 and agent
# 1 run on the first host, agent 2 on the second; the suite's case checks that stats() tells the
# two hosts apart and that both run calls. Exits 77 (skipped) where namespaces cannot be made.
#   two_hosts.sh MPIEXEC TEST_PROGRAM
set -u
mpiexec=$1 program=$2
here=$(cd "$(dirname "$0")" && pwd)
a=fp$$a b=fp$$b
cleanup() { ip netns del "$a" 2> /dev/null; ip netns del "$b" 2> /dev/null; }
trap cleanup EXIT
skip() {
  echo "SKIPPED: $*"
  exit 77
}
command -v ip > /dev/null || skip "no ip command (iproute2)"
unshare --uts true 2> /dev/null || skip "cannot make a UTS namespace here (needs CAP_SYS_ADMIN)"
ip netns add "$a" 2> /dev/null || skip "cannot make a network namespace here (needs CAP_NET_ADMIN)"
ip netns add "$b" || skip "cannot make a second network namespace"
ip link add "$a-v" type veth peer name "$b-v" || skip "cannot make a veth pair"
ip link set "$a-v" netns "$a" && ip link set "$b-v" netns "$b" &&
  ip -n "$a" addr add 10.77.0.1/24 dev "$a-v" && ip -n "$b" addr add 10.77.0.2/24 dev "$b-v" &&
  ip -n "$a" link set lo up && ip -n "$b" link set lo up &&
  ip -n "$a" link set "$a-v" up && ip -n "$b" link set "$b-v" up || skip "cannot set the pair up"
net=10.77.0.0/24
FORKPOOL_TEST_EXPECT_HOSTS=2 ip netns exec "$a" unshare --uts sh -c 'hostname "$0"; exec "$@"' \
  "$a" "$mpiexec" --host "$a:2,$b:1" --oversubscribe --bind-to none \
  --mca plm_rsh_agent "bash $here/netns_rsh.sh" --mca plm_rsh_no_tree_spawn 1 \
  --mca btl self,tcp --mca btl_tcp_if_include $net --mca oob_tcp_if_include $net \
  -x FORKPOOL_TEST_EXPECT_HOSTS -n 3 "$program" --no-colors --test-case='*told apart*'
