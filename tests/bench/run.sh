#!/usr/bin/env bash
# Cost under load: a loopback connection storm (tests/bench/storm.cpp, a
# fresh network namespace per run) without a tracer and with each tracer,
# interleaved (A B C D, A B C D, ...), as root:
#   bash tests/bench/run.sh [--connections N] [--rounds R] [--clients C] [--long N] [--port P]
# Prints one table: connections/s (median, min-max), the ratio of medians to
# the baseline, events received against expected, lost, start-up (launch to
# attached), peak RSS and CPU time of the tracer. Events expected: each
# tracer's records per connection and fixed records, measured on two small
# calibration storms (100 and 200 connections) before the rounds.
# Then a long storm (--long, default 1,000,000 connections; 0 skips it)
# under sockscope trace and explain, with their RSS at 100k, 500k and 1M.
# Figures, not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."

connections=50000 rounds=5 clients=2 port=10000 long=1000000
while (($#)); do
  case $1 in
    --connections) connections=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --long) long=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) echo "bench: unknown argument $1 (usage: run.sh [--connections N] [--rounds R] [--clients C] [--long N] [--port P])" >&2; exit 2 ;;
  esac
done

bash .ci/install-deps.sh
bash .ci/build.sh >/dev/null
storm=$PWD/build/tests/storm
sockscope=$PWD/build/sockscope
work=$(mktemp -d)
tracer=''
trap '[[ -n $tracer ]] && kill -INT "$tracer" 2>/dev/null; rm -rf "$work"' EXIT

# bpftrace's equivalent: the same tracepoints, a line per event, the port
# filtered in the kernel where the tracepoint has it.
cat >"$work/bpftrace.bt" <<EOF
BEGIN { printf("bench: probes attached\n"); }
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == $port || args->dport == $port)/
{ printf("%llu %d %s state %d %d\n", nsecs, pid, comm, args->oldstate, args->newstate); }
tracepoint:syscalls:sys_enter_connect, tracepoint:syscalls:sys_enter_accept4, tracepoint:syscalls:sys_enter_accept
{ printf("%llu %d %s %s enter %d\n", nsecs, pid, comm, probe, args->fd); }
tracepoint:syscalls:sys_exit_connect, tracepoint:syscalls:sys_exit_accept4, tracepoint:syscalls:sys_exit_accept
{ printf("%llu %d %s %s exit %d\n", nsecs, pid, comm, probe, args->ret); }
EOF

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The storm in a fresh network namespace, with these storm options; its output.
storm_in_netns() {
  unshare --net sh -c "ip link set lo up && exec '$storm' --clients $clients --port $port $*"
}
storm_run() {  # [connections]: connections per second
  storm_in_netns --connections "${1:-$connections}" | sed -n 's/.*"per_second":\([0-9]*\).*/\1/p'
}

# Start a tracer, wait until it is attached (sockscope: its --ready-file;
# bpftrace: its BEGIN line); sets $tracer and $startup_ms.
start_tracer() {
  local mode=$1 out=${2:-$work/out} t0
  : >"$work/err"
  rm -f "$work/ready"
  t0=$(now_ms)
  case $mode in
    trace | explain) "$sockscope" "$mode" --json --port "$port" --ready-file "$work/ready" >"$out" 2>"$work/err" & ;;
    bpftrace) bpftrace "$work/bpftrace.bt" >"$out" 2>"$work/err" & ;;
  esac
  tracer=$!
  local tries=3000
  until [[ -e $work/ready ]] || { [[ $mode == bpftrace ]] && grep -q "bench: probes attached" "$out"; }; do
    ((tries--)) && kill -0 "$tracer" 2>/dev/null || {
      echo "bench: $mode did not start" >&2
      cat "$work/err" >&2
      exit 1
    }
    sleep 0.005
  done
  startup_ms=$(($(now_ms) - t0))
}

# Peak RSS (MiB) and CPU seconds of the tracer, then stop it; sets $rss,
# $cpu, $events and $lost (as the tracer counted them), and $written: what
# reached its output file (OUT, default $work/out; '-' for /dev/null): trace's
# record lines (not the summary), explain's connection stories.
stop_tracer() {
  local mode=$1 out=${2:-$work/out} ticks
  ticks=$(getconf CLK_TCK)
  rss=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$tracer/status")
  cpu=$(awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$tracer/stat")
  kill -INT "$tracer"
  # A tracer that ignores SIGINT (bpftrace once sat in its exit path for
  # minutes) must not hang the bench: it is killed, and said to be.
  local waited=0
  while kill -0 "$tracer" 2>/dev/null && ((waited < 150)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$tracer" 2>/dev/null; then
    echo "bench: $mode did not stop within 15 s of SIGINT: killed (its figures are incomplete)" >&2
    kill -KILL "$tracer" 2>/dev/null || true
  fi
  wait "$tracer" || true
  tracer=''
  case $mode in
    trace | explain)
      events=$(sed -n 's/^sockscope: \([0-9]*\) events, \([0-9]*\) lost.*/\1/p' "$work/err")
      lost=$(sed -n 's/^sockscope: \([0-9]*\) events, \([0-9]*\) lost.*/\2/p' "$work/err")
      written=-
      if [[ -f $out ]]; then
        if [[ $mode == trace ]]; then
          written=$(grep -c '^{"ts_ns":' "$out" || true)
        else
          written=$(grep -c '^{"type":"connection"' "$out" || true)
        fi
      fi
      ;;
    bpftrace)
      events=$(grep -c ' state \| enter \| exit ' "$work/out" || true)
      written=$events
      lost=$(sed -n 's/.*Lost \([0-9]*\) events.*/\1/p' "$work/err" "$work/out" | awk '{s += $1} END {print s + 0}')
      ;;
  esac
}

declare -A rates stats per_conn fixed
modes=(baseline trace explain bpftrace)

# Calibration: records per connection and fixed records, from two storms too
# small to lose anything.
for m in trace explain bpftrace; do
  declare -a got=()
  for n in 100 200; do
    start_tracer "$m"
    storm_run "$n" >/dev/null
    sleep 0.3
    stop_tracer "$m"
    got+=("$events")
  done
  per_conn[$m]=$(((got[1] - got[0] + 50) / 100))
  fixed[$m]=$((got[0] - 100 * per_conn[$m]))
  echo "calibration $m: ${per_conn[$m]} records per connection + ${fixed[$m]}" >&2
done
# Records MODE should deliver for N connections.
expected() { echo $((per_conn[$1] * $2 + fixed[$1])); }
events=''

for ((r = 1; r <= rounds; r++)); do
  for m in "${modes[@]}"; do
    if [[ $m == baseline ]]; then
      rate=$(storm_run)
      stats[$m]+="-;-;-;-;-;-|"
    else
      start_tracer "$m"
      rate=$(storm_run)
      sleep 0.5  # let the tracer drain what the storm left in the ring buffer
      stop_tracer "$m"
      stats[$m]+="$events;$lost;$startup_ms;$rss;$cpu;$written|"
    fi
    rates[$m]+="$rate "
    echo "round $r $m: $rate conn/s${events:+, $events events, $lost lost}" >&2
    events=''
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
range() { tr ' ' '\n' | grep . | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }
# The median of one column of the per-round stats (1 events, 2 lost, 3 startup, 4 rss, 5 cpu, 6 written), and its max.
col() { tr '|' '\n' | grep . | cut -d';' -f"$1" | median; }
colmax() { tr '|' '\n' | grep . | cut -d';' -f"$1" | sort -n | tail -1; }

base=$(median <<<"${rates[baseline]}")
echo
echo "sockscope bench: $connections connections x $rounds rounds, $clients client threads, loopback, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs"
printf '%-10s %18s %7s %21s %9s %11s %13s %9s %9s\n' mode "conn/s (min-max)" ratio "events/expected" lost startup_ms peak_RSS_MiB cpu_s written
for m in "${modes[@]}"; do
  med=$(median <<<"${rates[$m]}")
  ratio=$(awk -v a="$med" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
  if [[ $m == baseline ]]; then
    printf '%-10s %8s (%s) %7s %21s %9s %11s %13s %9s %9s\n' "$m" "$med" "$(range <<<"${rates[$m]}")" "$ratio" - - - - - -
  else
    printf '%-10s %8s (%s) %7s %21s %9s %11s %13s %9s %9s\n' "$m" "$med" "$(range <<<"${rates[$m]}")" "$ratio" \
      "$(col 1 <<<"${stats[$m]}")/$(expected "$m" "$connections")" "$(colmax 2 <<<"${stats[$m]}")" "$(col 3 <<<"${stats[$m]}")" \
      "$(colmax 4 <<<"${stats[$m]}")" "$(col 5 <<<"${stats[$m]}")" "$(col 6 <<<"${stats[$m]}")"
  fi
done
echo "(events: median per run, as the tracer counted them; written: median per run, what reached the output file:"
echo " trace's record lines, explain's connection stories, bpftrace's lines; lost and peak RSS: the worst run;"
echo " start-up: launch to probes attached)"

((long > 0)) || exit 0
# The long storm: RSS read by the storm itself (/proc/PID/status) as the
# 100,000th, 500,000th and last connection completes. Output goes to
# /dev/null: 29 records of ~450 bytes per connection would be 13 GB of JSON,
# and the page cache is no part of the tracer's RSS.
marks="100000,500000,$long"
echo
echo "sockscope bench, long storm: $long connections, $clients client threads, output to /dev/null"
printf '%-10s %8s %11s %9s %13s %13s %13s %13s\n' mode conn/s events lost "RSS@100k_MiB" "RSS@500k_MiB" "RSS@end_MiB" peak_RSS_MiB
for m in trace explain; do
  start_tracer "$m" /dev/null
  storm_in_netns --connections "$long" --max-seconds 1800 --report-at "$marks" --watch-pid "$tracer" >"$work/long"
  sleep 0.5
  stop_tracer "$m" /dev/null
  mib() { sed -n "s/.*\"progress\":$1,\"rss_kib\":\([0-9]*\).*/\1/p" "$work/long" | awk '{printf "%.1f", $1 / 1024}'; }
  printf '%-10s %8s %11s %9s %13s %13s %13s %13s\n' "$m" "$(sed -n 's/.*"per_second":\([0-9]*\).*/\1/p' "$work/long")" \
    "$events/$(expected "$m" "$long")" "$lost" "$(mib 100000)" "$(mib 500000)" "$(mib "$long")" "$rss"
done
