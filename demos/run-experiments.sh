#!/usr/bin/env bash
# The tutorial's experiment with sockscope watching, from a fresh Debian
# bookworm machine, as root:
#   bash demos/run-experiments.sh
# Installs what is missing, builds, then pauses the receiver right after
# listen(), runs the sender, and shows what the kernel did meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
bash .ci/build.sh >/dev/null

PORT=${PORT:-10000}
SOCKSCOPE=build/sockscope
RECEIVER=build/demos/receiver
SENDER=build/demos/sender
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Wait (bounded) until FILE has a line matching PATTERN.
wait_for_line() {
  local file=$1 pattern=$2 tries=500
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    ((tries--)) || { echo "timed out waiting for '$pattern' in $file" >&2; cat "$file" >&2; exit 1; }
    sleep 0.02
  done
}
# Wait (bounded) until process PID is stopped.
wait_stopped() {
  local tries=500
  until [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == T ]]; do
    ((tries--)) || { echo "timed out waiting for pid $1 to stop" >&2; exit 1; }
    sleep 0.02
  done
}

echo "== The tutorial's question: the receiver is paused right after listen(); does the sender connect?"
"$SOCKSCOPE" trace --port "$PORT" --color never >"$work/trace.txt" 2>"$work/trace.err" &
tracer=$!
pids+=("$tracer")
wait_for_line "$work/trace.err" "sockscope: tracing"

"$RECEIVER" --port "$PORT" --pause-after listen >"$work/receiver.txt" 2>&1 &
receiver=$!
pids+=("$receiver")
wait_for_line "$work/receiver.txt" "paused after listen"
wait_stopped "$receiver"

"$SENDER" --port "$PORT" >"$work/sender.txt" 2>&1 &
sender=$!
pids+=("$sender")
wait_for_line "$work/sender.txt" "sent 13 bytes"
cat "$work/receiver.txt" "$work/sender.txt"
echo "-- the receiver (pid $receiver) is still stopped; the sender's connect() returned. Resuming it."
kill -CONT "$receiver"
wait "$sender" "$receiver"
cat "$work/receiver.txt" | tail -n +5
tail -n 2 "$work/sender.txt"
kill -INT "$tracer"
wait "$tracer"
pids=()

echo
echo "== What sockscope saw (sockscope trace --port $PORT)"
cat "$work/trace.txt"
cat "$work/trace.err"
echo
est=$(grep -m1 ' kernel  established ' "$work/trace.txt" || true)
acc=$(grep -m1 ' syscall accept  ' "$work/trace.txt" || true)
if [[ -n $est && -n $acc ]]; then
  echo "Conclusion: the kernel completed the handshake (see 'established': softirq, in another task's"
  echo "borrowed context, receiver stopped) and queued the connection; accept() only took it off the queue later."
else
  echo "Conclusion: the trace is missing the handshake or the accept; see above." >&2
  exit 1
fi
