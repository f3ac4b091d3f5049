#!/usr/bin/env bash
# Cost under load: a loopback connection storm (tests/bench/storm.cpp, a
# fresh network namespace per run) without a tracer and with each tracer,
# interleaved (A B C D E, A B C D E, ...), as root:
#   bash tests/bench/run.sh [--connections N] [--rounds R] [--clients C] [--long N] [--port P]
#                           [--workloads payload,connect-close] [--no-bpf-stats]
# Two workloads (storm --workload), each with its own baseline and rounds:
# payload (connect, send, wait for the server's close) and connect-close
# (connect and close only). Modes: baseline (no tracer), trace (sockscope
# trace --json, unfiltered), trace-port (trace --json --port P), explain
# (explain --json --port P), bpftrace (the same tracepoints, a line per event).
# Prints one table per workload: connections/s (median, min-max), the ratio of
# medians to that workload's baseline, events received against expected,
# lost, BPF ns per program run and per connection (kernel.bpf_stats_enabled,
# on for the bench only: the previous value is restored on exit), the
# tracer's CPU per record and per connection, start-up (launch to attached)
# and its ratio to bpftrace's, peak RSS and what reached the output file.
# Events expected: each tracer's records per connection and fixed records,
# per workload and mode, measured on two small calibration storms (100 and
# 200 connections) before the rounds. Then the BPF cost per program of each
# tracer (the last round). Then a long storm (--long, default 1,000,000
# connections; 0 skips it; payload workload) under trace-port and explain,
# with their RSS at 100k, 500k and 1M. Figures, not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."

usage="usage: run.sh [--connections N] [--rounds R] [--clients C] [--long N] [--port P] [--workloads W,...] [--no-bpf-stats]"
connections=50000 rounds=5 clients=2 port=10000 long=1000000 workloads=payload,connect-close bpf_stats=1
while (($#)); do
  case $1 in
    --connections) connections=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --long) long=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --no-bpf-stats) bpf_stats=0; shift ;;
    *) echo "bench: unknown argument $1 ($usage)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a wls <<<"$workloads"
for w in "${wls[@]}"; do
  [[ $w == payload || $w == connect-close ]] || { echo "bench: unknown workload $w (payload, connect-close)" >&2; exit 2; }
done
if ((long > 0)) && [[ ",$workloads," != *,payload,* ]]; then
  echo "bench: the long storm (--long $long) runs the payload workload: add it to --workloads, or --long 0" >&2
  exit 2
fi

bench_start=$(date +%s)
bash .ci/install-deps.sh
# SOCKSCOPE_BUILD_DIR: a build tree made already (tests/run.sh: build-release/);
# else build/, with only what the bench runs.
build=${SOCKSCOPE_BUILD_DIR:-build}
[[ -n ${SOCKSCOPE_BUILD_DIR:-} ]] || TARGETS="sockscope storm" bash .ci/build.sh >/dev/null
built=$(date +%s)
storm=$PWD/$build/tests/storm
sockscope=$PWD/$build/sockscope
[[ -x $storm && -x $sockscope ]] || { echo "bench: no $storm or $sockscope: build them first" >&2; exit 1; }
work=$(mktemp -d)
tracer=''
stats_before=''
cleanup() {
  [[ -n $tracer ]] && kill -INT "$tracer" 2>/dev/null
  [[ -n $stats_before ]] && sysctl -qw kernel.bpf_stats_enabled="$stats_before"
  rm -rf "$work"
}
trap cleanup EXIT
if ((bpf_stats)); then
  stats_before=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -qw kernel.bpf_stats_enabled=1
fi

# bpftrace's equivalent: the same tracepoints, a line per event, the port
# filtered in the kernel where the tracepoint has it.
cat >"$work/bpftrace.bt" <<BT
BEGIN { printf("bench: probes attached\n"); }
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == $port || args->dport == $port)/
{ printf("%llu %d %s state %d %d\n", nsecs, pid, comm, args->oldstate, args->newstate); }
tracepoint:syscalls:sys_enter_connect, tracepoint:syscalls:sys_enter_accept4, tracepoint:syscalls:sys_enter_accept
{ printf("%llu %d %s %s enter %d\n", nsecs, pid, comm, probe, args->fd); }
tracepoint:syscalls:sys_exit_connect, tracepoint:syscalls:sys_exit_accept4, tracepoint:syscalls:sys_exit_accept
{ printf("%llu %d %s %s exit %d\n", nsecs, pid, comm, probe, args->ret); }
BT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The storm in a fresh network namespace, with these storm options; its
# output. connect-close (its clients close first and leave each connection's
# TIME_WAIT on their side) gets client ports 1024-65535 (the setting is per
# namespace), so that its 50,000 connections do not wrap the range; payload
# keeps the default range, as it always ran (storm.cpp says what it costs).
storm_in_netns() {
  local widen=''
  [[ " $* " == *" --workload connect-close "* ]] && widen="sysctl -qw net.ipv4.ip_local_port_range='1024 65535' &&"
  unshare --net sh -c "ip link set lo up && $widen exec '$storm' --clients $clients --port $port $*"
}
# This machine may be shared: a storm that runs while another tracer's BPF
# programs are loaded (any tracing or sock_ops program the bench's tracer
# does not hold: they see the storm too) is counted, and the count printed
# with the tables.
busy_storms=0 storms=0
foreign_programs() {
  bpftool prog show 2>/dev/null |
    awk '/^[0-9]+:/ && $2 ~ /^(tracepoint|kprobe|tracing|raw_tracepoint|sock_ops|perf_event)$/ {sub(/:/, "", $1); print $1}' |
    sort >"$work/loaded"
  if [[ -n $tracer ]]; then bpf_snap | cut -d' ' -f1 | sort >"$work/ours"; else : >"$work/ours"; fi
  comm -23 "$work/loaded" "$work/ours" | wc -l
}
# WORKLOAD [connections]: sets $rate (connections per second) and $foreign
# (the other tracers' programs loaded as it began).
storm_run() {
  storms=$((storms + 1))
  foreign=$(foreign_programs)
  ((foreign == 0)) || busy_storms=$((busy_storms + 1))
  rate=$(storm_in_netns --workload "$1" --connections "${2:-$connections}" | sed -n 's/.*"per_second":\([0-9]*\).*/\1/p')
}

# Start a tracer, wait until it is attached (sockscope: its --ready-file;
# bpftrace: its BEGIN line); sets $tracer, $startup_ms and $cpu0 (its CPU
# ticks once attached).
start_tracer() {
  local mode=$1 out=${2:-$work/out} t0
  : >"$work/err"
  rm -f "$work/ready"
  t0=$(now_ms)
  case $mode in
    trace) "$sockscope" trace --json --ready-file "$work/ready" >"$out" 2>"$work/err" & ;;
    trace-port) "$sockscope" trace --json --port "$port" --ready-file "$work/ready" >"$out" 2>"$work/err" & ;;
    explain) "$sockscope" explain --json --port "$port" --ready-file "$work/ready" >"$out" 2>"$work/err" & ;;
    bpftrace) bpftrace "$work/bpftrace.bt" >"$out" 2>"$work/err" & ;;
  esac
  tracer=$!
  local tries=3000
  until [[ -e $work/ready ]] || { [[ $mode == bpftrace ]] && grep -q "bench: probes attached" "$out"; }; do
    if ! ((tries--)) || ! kill -0 "$tracer" 2>/dev/null; then
      echo "bench: $mode did not start" >&2
      cat "$work/err" >&2
      exit 1
    fi
    sleep 0.005
  done
  startup_ms=$(($(now_ms) - t0))
  cpu0=$(cpu_ticks)
}

# The tracer's user and system CPU so far, in clock ticks (all its threads).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$tracer/stat"; }

# The BPF programs the tracer holds (its file descriptors), one line each:
# id, run_time_ns, run_cnt (both 0 unless kernel.bpf_stats_enabled).
bpf_snap() {
  grep -sH -E '^(prog_id|run_time_ns|run_cnt):' "/proc/$tracer/fdinfo/"* |
    awk -F'[:\t ]+' '{f = $1; sub(/:.*/, "", f); v[f, $(NF - 1)] = $NF; files[f] = 1}
      END {for (f in files) if ((f, "run_cnt") in v) print v[f, "prog_id"], v[f, "run_time_ns"], v[f, "run_cnt"]}' |
    sort -u -k1,1n
}
# Program names by id (bpftool's text listing), "-" where bpftool is missing.
bpf_names() {
  bpftool prog show 2>/dev/null | awk '/^[0-9]+:/ {id = $1; sub(/:/, "", id); for (i = 2; i < NF; i++) if ($i == "name") print id, $(i + 1)}' || true
}
# BEFORE AFTER [NAMES]: per program (id, name, runs, ns) what ran in between.
bpf_delta() {
  awk 'FILENAME == ARGV[1] {t[$1] = $2; c[$1] = $3; next}
    FILENAME == ARGV[2] {printf "%s %.0f %.0f\n", $1, $2 - t[$1], $3 - c[$1]}' "$1" "$2" |
    awk -v names="${3:-/dev/null}" 'BEGIN {while ((getline l < names) > 0) {split(l, a, " "); n[a[1]] = a[2]}}
      {print $1, (($1 in n) ? n[$1] : "prog" $1), $3, $2}'
}

# Peak RSS (MiB) and CPU of the tracer, then stop it; sets $rss, $cpu_used
# (since attached), $events and $lost (as the tracer counted them), and
# $written: what reached its output file (OUT, default $work/out; '-' for
# /dev/null): trace's record lines (not the summary), explain's connection
# stories.
stop_tracer() {
  local mode=$1 out=${2:-$work/out}
  rss=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$tracer/status")
  cpu_used=$(($(cpu_ticks) - cpu0))
  kill -INT "$tracer"
  # A tracer that ignores SIGINT (bpftrace once sat in its exit path for
  # minutes) must not hang the bench: it is killed, and said to be.
  local waited=0
  while kill -0 "$tracer" 2>/dev/null && ((waited < 150)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  killed=0
  if kill -0 "$tracer" 2>/dev/null; then
    killed=1
    echo "bench: $mode did not stop within 15 s of SIGINT: killed (its figures are incomplete)" >&2
    kill -KILL "$tracer" 2>/dev/null || true
  fi
  wait "$tracer" || true
  tracer=''
  case $mode in
    trace | trace-port | explain)
      events=$(sed -n 's/^sockscope: \([0-9]*\) events, \([0-9]*\) lost.*/\1/p' "$work/err")
      lost=$(sed -n 's/^sockscope: \([0-9]*\) events, \([0-9]*\) lost.*/\2/p' "$work/err")
      written=-
      if [[ -f $out ]]; then
        if [[ $mode == explain ]]; then
          written=$(grep -c '^{"type":"connection"' "$out" || true)
        else
          written=$(grep -c '^{"ts_ns":' "$out" || true)
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

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
declare -A rates stats per_conn fixed startups
modes=(baseline trace trace-port explain bpftrace)
tracers=(trace trace-port explain bpftrace)
ticks=$(getconf CLK_TCK)

# Calibration: records per connection and fixed records, per workload and
# mode, from storms too small to lose anything: three good pairs of 100 and
# 300 connections, the median of each figure. The payload workload makes the
# same records for every connection; in connect-close, a connection whose two
# closes cross (or whose packets merge) makes a few more or fewer, so its
# expected count is close, not exact (lost stays exact: the tracer counts it).
for w in "${wls[@]}"; do
  for m in "${tracers[@]}"; do
    pcs='' fxs='' good=0 tries=0
    # A pair in which the tracer lost records or had to be killed (bpftrace
    # sometimes sits in its exit path) is run again, at most six pairs.
    while ((good < 3 && tries < 6)); do
      tries=$((tries + 1))
      got=() bad=''
      for n in 100 300; do
        start_tracer "$m"
        storm_run "$w" "$n"
        sleep 0.3
        stop_tracer "$m"
        ((lost == 0 && killed == 0)) || bad="lost $lost, killed $killed on $n connections"
        got+=("$events")
      done
      if [[ -n $bad ]]; then
        echo "bench: calibration $w $m: a pair discarded ($bad)" >&2
        continue
      fi
      good=$((good + 1))
      pc=$(((got[1] - got[0] + 100) / 200))
      pcs+="$pc " fxs+="$((got[0] - 100 * pc)) "
    done
    ((good > 0)) || { echo "bench: calibration $w $m: no good pair in $tries" >&2; exit 1; }
    per_conn[$w/$m]=$(median <<<"$pcs")
    fixed[$w/$m]=$(median <<<"$fxs")
    echo "calibration $w $m: ${per_conn[$w/$m]} records per connection + ${fixed[$w/$m]} (per pair: $pcs/ $fxs)" >&2
  done
done
# Records WORKLOAD/MODE should deliver for N connections.
expected() { echo $((per_conn[$1] * $2 + fixed[$1])); }

: >"$work/programs"
stats_reset=0
: >"$work/names"
for ((r = 1; r <= rounds; r++)); do
  for w in "${wls[@]}"; do
    for m in "${modes[@]}"; do
      events=''
      if [[ $m == baseline ]]; then
        storm_run "$w"
        stats[$w/$m]+="-;-;-;-;-;-;-;-;-|"
      else
        # Something else on this machine may have turned the statistics off
        # (a sysctl write of 0 turns them off for everyone): on again, said.
        if ((bpf_stats)) && [[ $(sysctl -n kernel.bpf_stats_enabled) != 1 ]]; then
          echo "bench: kernel.bpf_stats_enabled was turned off by something else: on again for round $r $w $m" >&2
          stats_reset=$((stats_reset + 1))
          sysctl -qw kernel.bpf_stats_enabled=1
        fi
        start_tracer "$m"
        bpf_snap >"$work/bpf.before"
        storm_run "$w"
        sleep 0.5  # let the tracer drain what the storm left in the ring buffer
        bpf_snap >"$work/bpf.after"
        ((r < rounds)) || bpf_names >"$work/names"
        stop_tracer "$m"
        bpf_delta "$work/bpf.before" "$work/bpf.after" "$work/names" >"$work/bpf.delta"
        # The last round's cost per program, for the breakdown.
        ((r < rounds)) || sed "s|^|$w $m |" "$work/bpf.delta" >>"$work/programs"
        read -r bpf_runs bpf_ns < <(awk '{c += $3; t += $4} END {printf "%.0f %.0f\n", c, t}' "$work/bpf.delta")
        bpf_run='-' bpf_conn='-'
        # Both snapshots with the statistics on, or the figures are wrong.
        [[ $(sysctl -n kernel.bpf_stats_enabled) == 1 ]] || bpf_runs=0
        if ((bpf_stats && bpf_runs > 0)); then
          bpf_run=$((bpf_ns / bpf_runs))
          bpf_conn=$(awk -v t="$bpf_ns" -v n="$connections" 'BEGIN {printf "%.2f", t / n / 1000}')
        fi
        cpu_rec=$(awk -v c="$cpu_used" -v t="$ticks" -v e="$events" 'BEGIN {printf "%.0f", e ? c / t * 1e9 / e : 0}')
        cpu_conn=$(awk -v c="$cpu_used" -v t="$ticks" -v n="$connections" 'BEGIN {printf "%.2f", c / t * 1e6 / n}')
        stats[$w/$m]+="$events;$lost;$startup_ms;$rss;$cpu_rec;$written;$bpf_run;$bpf_conn;$cpu_conn|"
        startups[$w/$m]+="$startup_ms "
      fi
      rates[$w/$m]+="$rate "
      echo "round $r $w $m: $rate conn/s (${foreign} other tracing programs loaded)${events:+, $events events, $lost lost, BPF $bpf_run ns/run $bpf_conn us/conn, CPU $cpu_rec ns/record}" >&2
    done
  done
done

range() { tr ' ' '\n' | grep . | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }
# The median of one column of the per-round stats (1 events, 2 lost, 3
# startup, 4 rss, 5 cpu ns/record, 6 written, 7 BPF ns/run, 8 BPF us/conn,
# 9 cpu us/conn), and its max.
col() { tr '|' '\n' | grep . | cut -d';' -f"$1" | median; }
colmax() { tr '|' '\n' | grep . | cut -d';' -f"$1" | sort -n | tail -1; }

fmt='%-10s %8s (%s) %6s %19s %6s %10s %11s %11s %12s %16s %8s %9s\n'
for w in "${wls[@]}"; do
  base=$(median <<<"${rates[$w/baseline]}")
  bt_startup=$(median <<<"${startups[$w/bpftrace]}")
  echo
  echo "sockscope bench, $w workload: $connections connections x $rounds rounds, $clients client threads, loopback, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs"
  printf '%-10s %18s %6s %19s %6s %10s %11s %11s %12s %16s %8s %9s\n' mode "conn/s (min-max)" ratio events/expected lost \
    BPF_ns/run BPF_us/conn CPU_ns/rec CPU_us/conn "startup_ms (xbt)" RSS_MiB written
  for m in "${modes[@]}"; do
    med=$(median <<<"${rates[$w/$m]}")
    ratio=$(awk -v a="$med" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
    if [[ $m == baseline ]]; then
      # shellcheck disable=SC2059 # one format for every row
      printf "$fmt" "$m" "$med" "$(range <<<"${rates[$w/$m]}")" "$ratio" - - - - - - - - -
    else
      s=${stats[$w/$m]} st=$(col 3 <<<"${stats[$w/$m]}")
      # shellcheck disable=SC2059
      printf "$fmt" "$m" "$med" "$(range <<<"${rates[$w/$m]}")" "$ratio" \
        "$(col 1 <<<"$s")/$(expected "$w/$m" "$connections")" "$(colmax 2 <<<"$s")" "$(col 7 <<<"$s")" "$(col 8 <<<"$s")" \
        "$(col 5 <<<"$s")" "$(col 9 <<<"$s")" \
        "$st ($(awk -v a="$st" -v b="$bt_startup" 'BEGIN {printf "%.2f", b ? a / b : 0}'))" \
        "$(colmax 4 <<<"$s")" "$(col 6 <<<"$s")"
    fi
  done
done
echo "(per run, median of the rounds: events, as the tracer counted them; written, what reached the output file:"
echo " trace's record lines, explain's connection stories, bpftrace's lines; BPF ns/run and us/conn, the run time"
echo " of the tracer's programs (kernel.bpf_stats_enabled) over their runs and over the storm's connections;"
echo " CPU ns/rec and us/conn, the tracer's user+system time from attached to stop over events and connections;"
echo " startup: launch to probes attached, (xbt) its ratio to bpftrace's. Worst run: lost, peak RSS.)"

if ((bpf_stats)) && [[ -s $work/programs ]]; then
  # Per program, the last round: runs per connection and ns per run, per mode.
  for w in "${wls[@]}"; do
    echo
    echo "BPF cost per program, $w workload (last round): runs per connection x ns per run = ns per connection"
    awk -v w="$w" -v n="$connections" -v modes="${tracers[*]}" '
      $1 == w && $5 > 0 {k = $4 SUBSEP $2; runs[k] += $5; ns[k] += $6; total[$4] += $6; if (!($4 in seen)) {seen[$4] = 1; order[++np] = $4}}
      END {
        nm = split(modes, m, " ")
        printf "%-16s", "program"; for (j = 1; j <= nm; j++) printf " %26s", m[j]; printf "\n"
        for (i = 1; i <= np; i++) {
          p = order[i]; printf "%-16s", p
          for (j = 1; j <= nm; j++) {k = p SUBSEP m[j]; if (k in runs) printf " %26s", sprintf("%.2f x %d = %d", runs[k] / n, ns[k] / runs[k], ns[k] / n); else printf " %26s", "-"}
          printf "\n"
        }
      }' "$work/programs"
  done
fi
echo
((stats_reset == 0)) || echo "bench: kernel.bpf_stats_enabled was turned off by something else $stats_reset times during the rounds (on again each time; a round where it was off as the storm ended shows '-')"
echo "bench: $((busy_storms)) of $storms storms (calibration included) ran while another sockscope or bpftrace was loaded"
echo "bench: $(($(date +%s) - built)) s from build to tables ($(($(date +%s) - bench_start)) s with the build)"

((long > 0)) || exit 0
# The long storm: RSS read by the storm itself (/proc/PID/status) as the
# 100,000th, 500,000th and last connection completes. Output goes to
# /dev/null: 29 records of ~450 bytes per connection would be 13 GB of JSON,
# and the page cache is no part of the tracer's RSS.
marks="100000,500000,$long"
echo
echo "sockscope bench, long storm: $long connections, payload workload, $clients client threads, output to /dev/null"
printf '%-10s %8s %11s %9s %13s %13s %13s %13s\n' mode conn/s events lost "RSS@100k_MiB" "RSS@500k_MiB" "RSS@end_MiB" peak_RSS_MiB
for m in trace-port explain; do
  start_tracer "$m" /dev/null
  storm_in_netns --workload payload --connections "$long" --max-seconds 1800 --report-at "$marks" --watch-pid "$tracer" >"$work/long"
  sleep 0.5
  stop_tracer "$m" /dev/null
  mib() { sed -n "s/.*\"progress\":$1,\"rss_kib\":\([0-9]*\).*/\1/p" "$work/long" | awk '{printf "%.1f", $1 / 1024}'; }
  printf '%-10s %8s %11s %9s %13s %13s %13s %13s\n' "$m" "$(sed -n 's/.*"per_second":\([0-9]*\).*/\1/p' "$work/long")" \
    "$events/$(expected "payload/$m" "$long")" "$lost" "$(mib 100000)" "$(mib 500000)" "$(mib "$long")" "$rss"
done
echo
echo "bench: $(($(date +%s) - built)) s from build to here, with the long storm"
