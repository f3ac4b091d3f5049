#!/usr/bin/env bash
# Inside a guest booted by tests/vm/run.sh: the integration suite once per
# backend. Prints one line per backend and exits non-zero if any failed.
#   bash tests/vm/guest-suite.sh [--build-dir DIR] [BACKEND...]
#   (default: build/; fentry kprobe tracepoint auto)
# Under software emulation each tracer start costs seconds, so the guests run
# the tests tagged [vm] (every hook's records, the accept that began before
# tracing, the explain verdicts on loopback and veth, filters, E5, who waits
# on real servers, the client side: these two under the function probes
# only), and the [backend] tests once, under auto; SOCKSCOPE_VM_TESTS
# overrides the spec.
# A spec that selects no test fails the run (exit code, not the summary text).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=build
if [[ ${1:-} == --build-dir ]]; then
  build=$2
  shift 2
fi
suite=$build/tests/integration_tests
backends=("$@")
[[ ${#backends[@]} -gt 0 ]] || backends=(fentry kprobe tracepoint auto)

echo "guest: Linux $(uname -r)"
"$build"/sockscope doctor | sed -n '/^hook /,/^$/p'
failed=0
for b in "${backends[@]}"; do
  spec=${SOCKSCOPE_VM_TESTS:-[vm]}
  # Lean, for .ci/run's 30 minutes: auto chooses fentry for every hook on
  # these kernels (the [backend] tests check that choice), so it runs only
  # those; the [vm] set ran under fentry already. The real-server tests
  # ([waiters], [client]: over a minute a backend here) run under the
  # function probes, which only the guests have; their tracepoint path is the
  # host's, where they run too.
  if [[ -z ${SOCKSCOPE_VM_TESTS:-} ]]; then
    case $b in
      auto) spec="[backend]" ;;
      tracepoint) spec="[vm]~[waiters]~[client]" ;;
    esac
  fi
  start=$(date +%s)
  # --warn NoTests: Catch2 2.13 exits 0 when a filter matches nothing, so a
  # renamed tag would otherwise pass every backend on both kernels. The
  # verdict is the exit code; the summary line is only reported.
  # The twin explain --all-records (tests/support/trace_run.hpp) runs under
  # fentry on both kernels and under kprobe on 6.12 (the tracepoint path is
  # the host's): a second tracer on the guest's one emulated CPU costs about
  # two minutes a backend, and the 6.12 guest, which ends first, has them to
  # spare beside the 6.1 one (run-all.sh runs the two side by side).
  twin=0
  [[ $b == fentry || ($b == kprobe && $(uname -r) == 6.12.*) ]] && twin=1
  SOCKSCOPE_TWIN=$twin SOCKSCOPE_TEST_BACKEND=$b "$suite" "$spec" --warn NoTests >"/tmp/suite-$b.txt" 2>&1
  rc=$?
  result=$(grep -E '^(All tests passed|test cases:)' "/tmp/suite-$b.txt" | tail -n 1)
  if [[ $rc -eq 0 && -n $result ]]; then
    echo "guest $(uname -r), backend $b: $result, $(($(date +%s) - start)) s"
  else
    failed=1
    echo "guest $(uname -r), backend $b: FAILED (exit $rc) after $(($(date +%s) - start)) s"
    cat "/tmp/suite-$b.txt"
  fi
done
exit $failed
