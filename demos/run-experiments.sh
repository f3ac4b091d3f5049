#!/usr/bin/env bash
# The sockets tutorial's experiments with sockscope watching, from a fresh
# Debian bookworm machine, as root:
#   bash demos/run-experiments.sh
# Installs what is missing and builds, then runs five experiments twice: on
# loopback (127.0.0.1), then across two network namespaces joined by a veth
# pair (receiver in sockscope-rx at 10.77.0.1, senders in sockscope-tx; see
# demos/netns.sh). Each experiment has its own `sockscope explain` run, and
# its conclusion is read from what sockscope printed:
#   E1  bind() alone holds the port (a second bind() fails with EADDRINUSE)
#   E2  listen() makes the socket LISTEN with an accept queue (ss's Send-Q)
#   E3  the kernel completes the handshake while the receiver is stopped
#   E4  accept() only takes the finished connection (and its data) off the queue
#   E5  a full accept queue: SYNs dropped, the client retransmits
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
bash .ci/build.sh >/dev/null

PORT=${PORT:-10000}
SOCKSCOPE=build/sockscope
RECEIVER=build/demos/receiver
SENDER=build/demos/sender
RX_NS=${SOCKSCOPE_RX_NS:-sockscope-rx}  # the names demos/netns.sh uses
TX_NS=${SOCKSCOPE_TX_NS:-sockscope-tx}
work=$(mktemp -d)
pids=()
conclusions=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash demos/netns.sh down
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "run-experiments: $1" >&2
  shift
  local f
  for f in "$@"; do echo "--- $f:" >&2; cat "$f" >&2; done
  exit 1
}
# Stops tracking PID (it has been waited for).
forget() {
  local p keep=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# Wait (bounded) until FILE has a line matching PATTERN (grep -E), at least
# COUNT times.
wait_for_line() {
  local file=$1 pattern=$2 count=${3:-1} tries=500 n
  # The file may not exist yet: its program has not run its redirection.
  until n=$(grep -cE -- "$pattern" "$file" 2>/dev/null) || true; ((${n:-0} >= count)); do
    ((tries--)) || fail "timed out waiting for '$pattern' in $file" "$file"
    sleep 0.02
  done
}
state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true; }
# Wait (bounded) until process PID is stopped.
wait_stopped() {
  local tries=500
  until [[ $(state_of "$1") == T ]]; do
    ((tries--)) || fail "timed out waiting for pid $1 to stop"
    sleep 0.02
  done
}
# Wait (bounded, ~10 s) until child PID has exited; reap it and check that its
# exit status is WANT.
wait_exit() {
  local pid=$1 want=$2 what=$3 tries=500 rc=0
  while [[ -e /proc/$pid && $(state_of "$pid") != Z ]]; do
    ((tries--)) || fail "timed out waiting for $what (pid $pid) to exit"
    sleep 0.02
  done
  wait "$pid" || rc=$?
  forget "$pid"
  ((rc == want)) || fail "$what (pid $pid) exited with $rc, expected $want"
}
# SIGKILL child PID (stopped or not) and reap it; 2>/dev/null spares us
# bash's "Killed" notice.
kill_child() {
  local rc=0
  { kill -KILL "$1" && wait "$1"; } 2>/dev/null || rc=$?
  forget "$1"
  ((rc == 137)) || fail "$2 (pid $1) exited with $rc after SIGKILL"
}
# The TcpExt ListenOverflows counter of the network namespace behind a
# /proc/.../net/netstat file (two "TcpExt:" lines: names, then values).
listen_overflows() {
  awk '$1 == "TcpExt:" { if (!col) { for (i = 2; i <= NF; i++) if ($i == "ListenOverflows") col = i }
                         else { print $col; exit } }' "$1"
}

# Wait (bounded) until sockscope (pid PID) has created its --ready-file FILE:
# every probe attached.
wait_ready() {
  local pid=$1 file=$2 tries=500
  until [[ -e $file ]]; do
    [[ -e /proc/$pid && $(state_of "$pid") != Z ]] || fail "sockscope (pid $pid) exited before it was ready" "$explain_err"
    ((tries--)) || fail "timed out waiting for sockscope to create $file" "$explain_err"
    sleep 0.02
  done
}
# Runs before each experiment: one `sockscope explain` for it alone.
start_explain() {
  explain_out=$work/$1.explain
  explain_err=$work/$1.explain.err
  "$SOCKSCOPE" explain --port "$PORT" --ready-file "$work/$1.ready" >"$explain_out" 2>"$explain_err" &
  tracer=$!
  pids+=("$tracer")
  wait_ready "$tracer" "$work/$1.ready"
}
# Stops it (SIGINT) and prints what it said under a heading.
stop_explain() {
  kill -INT "$tracer" 2>/dev/null || true  # wait_exit says if it had died
  wait_exit "$tracer" 0 "sockscope explain"
  echo "-- what sockscope explain --port $PORT printed:"
  cat "$explain_out"
  grep -v '^sockscope: tracing' "$explain_err" || true
}
# The first line of the explain output matching PATTERN (grep -E), or fail.
explain_line() {
  grep -m1 -E -- "$1" "$explain_out" || fail "sockscope explain did not print a line matching '$1'" "$explain_out"
}
# Pieces of a verdict: "completed by the kernel (<how>)", its context
# ("softirq on CPU 1") and the task it borrowed ("sender (pid 42), ...").
verdict_how() { grep -oP 'completed by the kernel \(\K[^()]*(\([^()]*\)[^()]*)*(?=\))' <<<"$1" || true; }
how_ctx() { grep -oP '^[^,]*' <<<"$1"; }
how_task() { grep -oP 'borrowing the context of \K.*' <<<"$1"; }
# "softirq on CPU 1 (borrowing sender (pid 42), ...)", or the verdict's own
# words when no context was borrowed.
how_said() {
  if [[ $1 == *", borrowing the context of "* ]]; then
    echo "$(how_ctx "$1") (borrowing $(how_task "$1"))"
  else
    echo "$1"
  fi
}
# No verdict may say that the sender (the client) completed the handshake.
check_verdicts() {
  if grep -qP '^verdict: (?!.*completed by the kernel)' "$explain_out" ||
    grep -qiE 'completed by (the )?(sender|client)|(sender|client)[^.]* completed the handshake' "$explain_out"; then
    fail "a verdict does not say the kernel completed the handshake" "$explain_out"
  fi
}
conclude() {
  echo "$1"
  conclusions+=("$1")
}

# Start the receiver on the receiver's side, paused after STAGE, with ARGS;
# wait until it has stopped there and show what it printed. Sets $paused to
# its pid.
start_paused_receiver() {
  local out=$1 stage=$2
  shift 2
  "${rx[@]}" "$RECEIVER" --host "$host" --port "$PORT" "$@" --pause-after "$stage" >"$out" 2>&1 &
  paused=$!
  pids+=("$paused")
  wait_for_line "$out" "paused after $stage"
  wait_stopped "$paused"
  cat "$out"
}

# One topology: NAME, the receiver's address, and the command prefixes that
# run a program on the receiver's and on the sender's side.
run_topology() {
  topo=$1
  host=$2
  read -r -a rx <<<"$3"
  read -r -a tx <<<"$4"
  local overflows_before
  # A program started with `> file &` truncates its file only once it runs:
  # a wait_for_line right after could still match the previous topology's
  # line in the same file, so each topology starts with none.
  rm -f "$work"/e[0-9].*

  echo
  echo "=== E1 ($topo): does bind() alone hold the port?"
  start_explain "$topo-e1"
  start_paused_receiver "$work/e1.holder" bind
  local holder=$paused
  local rc=0
  "${rx[@]}" "$RECEIVER" --host "$host" --port "$PORT" >"$work/e1.second" 2>&1 || rc=$?
  cat "$work/e1.second"
  if ((rc != 1)) || ! grep -q "Address already in use" "$work/e1.second"; then
    fail "the second receiver should have failed with 'Address already in use' (exit 1), it exited with $rc" \
      "$work/e1.second"
  fi
  echo "-- the second receiver exited with $rc; killing the first (pid $holder)"
  kill_child "$holder" "the first receiver"
  wait_for_line "$explain_out" '^bind '
  stop_explain
  local line who
  line=$(explain_line "^bind .*failed with EADDRINUSE: the port is held by .*\(bound, not listening\)")
  who=$(grep -oP 'held by \K.*?\(pid \d+\)' <<<"$line")
  [[ $who == *"(pid $holder)" ]] || fail "sockscope names $who as the holder, not pid $holder" "$explain_out"
  conclude "Conclusion E1 ($topo): bind() alone holds the port: the second receiver's bind() failed with EADDRINUSE; sockscope names the holder, $who, which had bound but not listened."

  echo
  echo "=== E2 ($topo): what does listen() change?"
  start_explain "$topo-e2"
  start_paused_receiver "$work/e2.receiver" listen
  local receiver=$paused
  echo "-- ${rx[*]}${rx[*]:+ }ss -ltn 'sport = :$PORT'   (for a listener, Send-Q is the backlog)"
  "${rx[@]}" ss -ltn "sport = :$PORT" | tee "$work/e2.ss"
  local sendq
  sendq=$(awk -v a="$host:$PORT" '$4 == a {print $3}' "$work/e2.ss")
  [[ -n $sendq ]] || fail "ss shows no listener on $host:$PORT" "$work/e2.ss"
  wait_for_line "$explain_out" '^listen '
  kill_child "$receiver" "the receiver"
  stop_explain
  local max
  line=$(explain_line "^listen .*\(pid $receiver\).*moved from CLOSE to LISTEN, with backlog [0-9]+")
  max=$(grep -oP 'with backlog \K\d+' <<<"$line")
  conclude "Conclusion E2 ($topo): listen() moved the socket from CLOSE to LISTEN with backlog $max (ss's Send-Q: $sendq); the kernel queues finished connections until more than $max wait."

  echo
  echo "=== E3 and E4 ($topo): the receiver is stopped right after listen(); does the sender connect?"
  start_explain "$topo-e3"
  start_paused_receiver "$work/e3.receiver" listen
  receiver=$paused
  "${tx[@]}" "$SENDER" --host "$host" --port "$PORT" >"$work/e3.sender" 2>&1 &
  local sender=$!
  pids+=("$sender")
  wait_for_line "$work/e3.sender" "sent 13 bytes"
  local st
  st=$(state_of "$receiver")
  [[ $st == T ]] || fail "the receiver (pid $receiver) should still be stopped, its state is '$st'"
  cat "$work/e3.sender"
  echo "-- the sender connected and sent while the receiver (pid $receiver) is stopped (state $st); resuming it"
  kill -CONT "$receiver"
  wait_exit "$sender" 0 "the sender"
  wait_exit "$receiver" 0 "the receiver"
  tail -n +5 "$work/e3.receiver"
  tail -n 2 "$work/e3.sender"
  wait_for_line "$explain_out" '^verdict: '
  stop_explain
  line=$(explain_line "^verdict: .*completed by the kernel \(softirq.*\(pid $receiver\), was stopped")
  check_verdicts
  local how
  how=$(verdict_how "$line")
  if [[ $topo == loopback ]]; then
    conclude "Conclusion E3 ($topo): the kernel completed the handshake in $(how_said "$how") while the receiver was stopped; no receiver code ran."
  else
    conclude "Conclusion E3 ($topo): the kernel completed the handshake while the receiver was stopped, in the receiver host's $(how_ctx "$how") (the SYN and the final ACK arrive on veth-rx in $RX_NS); the context it borrowed, $(how_task "$how"), was only the task on that CPU, not the actor."
  fi
  local waited bytes
  line=$(explain_line "^verdict: .*waited in the accept queue.*\(pid $receiver\).*[0-9]+ bytes? had already arrived")
  waited=$(grep -oP 'waited in the accept queue \([^)]*\) for \K[0-9.]+ [a-z]+' <<<"$line")
  bytes=$(grep -oP '\d+ bytes?(?= had already arrived)' <<<"$line")
  conclude "Conclusion E4 ($topo): accept() returned the already-established connection after $waited in the accept queue, and the message was already waiting ($bytes)."

  echo
  echo "=== E5 ($topo): a full accept queue (backlog 1, receiver stopped, three senders)"
  start_explain "$topo-e5"
  start_paused_receiver "$work/e5.receiver" listen --backlog 1 --count 3
  receiver=$paused
  local i senders=()
  for i in 1 2 3; do
    if ((i == 3)); then
      overflows_before=$(listen_overflows "/proc/$receiver/net/netstat")
    fi
    "${tx[@]}" "$SENDER" --host "$host" --port "$PORT" --message "s$i" >"$work/e5.sender$i" 2>&1 &
    senders+=($!)
    pids+=($!)
    ((i == 3)) || wait_for_line "$work/e5.sender$i" "sent"
  done
  local tries=500
  until (($(listen_overflows "/proc/$receiver/net/netstat") > overflows_before)); do
    ((tries--)) || fail "the kernel did not drop the third sender's SYN (ListenOverflows stayed $overflows_before)"
    sleep 0.02
  done
  for i in 1 2 3; do cat "$work/e5.sender$i"; done
  echo "-- the kernel dropped the third SYN (ListenOverflows went up); ${tx[*]}${tx[*]:+ }ss -tn state syn-sent 'dport = :$PORT':"
  "${tx[@]}" ss -tn state syn-sent "dport = :$PORT" | tee "$work/e5.ss"
  grep -q ":$PORT" "$work/e5.ss" || fail "no client in SYN_SENT" "$work/e5.ss"
  echo "-- resuming the receiver (pid $receiver)"
  kill -CONT "$receiver"
  for i in 1 2 3; do wait_exit "${senders[i - 1]}" 0 "sender $i"; done
  wait_exit "$receiver" 0 "the receiver"
  local overflows
  overflows=$(($("${rx[@]}" cat /proc/net/netstat | listen_overflows /dev/stdin) - overflows_before))
  tail -n +5 "$work/e5.receiver"
  for i in 1 2 3; do tail -n 2 "$work/e5.sender$i"; done
  wait_for_line "$explain_out" '^verdict: ' 3
  stop_explain
  local dropped full rest synack=""
  line=$(explain_line "^verdict: .*dropped [0-9]+ SYNs? from the client because the accept queue was full.*\(pid $receiver\)")
  check_verdicts
  dropped=$(grep -oP 'dropped \K\d+ SYNs?' <<<"$line")
  full=$(grep -oP 'the accept queue was full \(\K[^)]*' <<<"$line")
  how=$(verdict_how "$line")
  [[ -n $how ]] || fail "the E5 verdict does not say the kernel completed the handshake" "$explain_out"
  rest=$(grep -oP 'retransmitted the SYN-ACK \K\d+ times?' <<<"$line" || true)
  [[ -z $rest ]] || synack=" (the kernel retransmitted the SYN-ACK $rest)"
  conclude "Conclusion E5 ($topo): the accept queue was full ($full): the kernel dropped $dropped (ListenOverflows +$overflows), the client stayed in SYN_SENT and retransmitted; after the resume, accept() drained the queue and the retransmitted SYN completed in $(how_said "$how")$synack."
}

echo "The sockets tutorial, with sockscope explain --port $PORT watching each experiment."
run_topology loopback 127.0.0.1 "" ""

echo
echo "=== Two hosts: receiver in $RX_NS (10.77.0.1), senders in $TX_NS (10.77.0.2), joined by veth"
bash demos/netns.sh up
run_topology veth 10.77.0.1 "ip netns exec $RX_NS" "ip netns exec $TX_NS"

echo
echo "=== Summary"
printf '%s\n' "${conclusions[@]}"
