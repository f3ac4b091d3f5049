#!/usr/bin/env bash
# The bench command, small (300 connections, one round, the payload workload,
# no long storm), as a test: it runs end to end, and sockscope trace --port
# receives exactly the records expected, 29 a connection on the tracepoint
# backend (README, "Cost under load"), and explain those its stories are made
# of, with none lost, and they write them: 8709 record lines from trace, one
# story per connection from explain; unfiltered trace loses none either (its count includes whatever
# else this machine does, so it is not checked exactly). Its speed figures
# are not checked: those are the benchmark's, not a test's.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $(id -u) -ne 0 ]]; then
  echo "bench smoke: skipped, needs root (it loads BPF programs)"
  exit 77
fi
# A port nothing else here uses: the tracers count every record on it.
out=$(bash tests/bench/run.sh --connections 300 --rounds 1 --long 0 --port 47100 --workloads payload 2>/dev/null)
echo "$out"
fail() { echo "bench smoke: $*" >&2; exit 1; }
for m in baseline trace trace-port explain bpftrace; do
  grep -q "^$m " <<<"$out" || fail "no $m row"
done
read -r _ _ _ _ _ lost _ < <(grep "^trace " <<<"$out")
[[ $lost == 0 ]] || fail "trace (unfiltered): $lost lost"
# mode, conn/s, (min-max), ratio, events/expected, lost, ...
read -r _ _ _ _ counts lost _ < <(grep "^trace-port " <<<"$out")
[[ $counts == "8709/8709" ]] || fail "trace-port: events/expected $counts, not 8709/8709 (300 x 29 + 9)"
[[ $lost == 0 ]] || fail "trace-port: $lost lost"
# explain receives only the records its stories are made of, and how many
# depends on timing (a child's state change is sent while it waits in the
# accept queue, not once accepted): none lost, and every story told below.
read -r _ _ _ _ _ lost _ < <(grep "^explain " <<<"$out")
[[ $lost == 0 ]] || fail "explain: $lost lost"
# What the tracers wrote, not what they say they received: every record a
# line of trace's output, and every connection a story of explain's (the
# last column).
written=$(awk '$1 == "trace-port" {print $NF}' <<<"$out")
[[ $written == 8709 ]] || fail "trace --port wrote $written record lines, not 8709"
written=$(awk '$1 == "explain" {print $NF}' <<<"$out")
[[ $written == 300 ]] || fail "explain wrote $written connection stories, not 300"
echo "bench smoke: trace --port received 8709/8709 records, explain none lost; trace --port wrote 8709 record lines, explain 300 connection stories"
