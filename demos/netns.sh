#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces sockscope-rx (the receiver)
# and sockscope-tx (the sender), joined by a veth pair.
#   bash demos/netns.sh up     # create (replacing any leftovers)
#   bash demos/netns.sh down   # remove
# Addresses: receiver 10.77.0.1 and fd77::1, sender 10.77.0.2 and fd77::2.
set -euo pipefail
RX=${SOCKSCOPE_RX_NS:-sockscope-rx}
TX=${SOCKSCOPE_TX_NS:-sockscope-tx}

down() {
  ip netns del "$RX" 2>/dev/null || true
  ip netns del "$TX" 2>/dev/null || true
}

up() {
  down
  ip netns add "$RX"
  ip netns add "$TX"
  ip link add veth-rx netns "$RX" type veth peer name veth-tx netns "$TX"
  ip -n "$RX" addr add 10.77.0.1/24 dev veth-rx
  ip -n "$TX" addr add 10.77.0.2/24 dev veth-tx
  # nodad: the IPv6 addresses are usable at once, without duplicate detection.
  ip -n "$RX" -6 addr add fd77::1/64 dev veth-rx nodad
  ip -n "$TX" -6 addr add fd77::2/64 dev veth-tx nodad
  for ns in "$RX" "$TX"; do
    ip -n "$ns" link set lo up
  done
  ip -n "$RX" link set veth-rx up
  ip -n "$TX" link set veth-tx up
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
