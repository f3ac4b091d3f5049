#!/usr/bin/env bash
# The integration suite on Debian's own kernels, where fentry and kprobes
# work: boots 6.1 (bookworm) and 6.12 (bookworm-security) under qemu and runs
# tests/vm/guest-suite.sh in each (every backend). Run from tests/run.sh.
#   bash tests/vm/run-all.sh [KERNEL...]   (default: 6.1 6.12)
# The guests run side by side, one emulated CPU each: on CI's 2 cores that
# takes the longer guest's time, not the sum (.ci/run's 30 minutes), and
# SOCKSCOPE_VM_SERIAL=1 runs them one after the other. Each guest's output is
# printed whole once it ends, so that the two never interleave.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The build tree the guests run (SOCKSCOPE_BUILD_DIR; default build/).
build=${SOCKSCOPE_BUILD_DIR:-build}
kernels=("$@")
[[ ${#kernels[@]} -gt 0 ]] || kernels=(6.1 6.12)
# Fetched one at a time (apt), before any boots.
for k in "${kernels[@]}"; do
  bash tests/vm/run.sh --kernel "$k" --fetch-only
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run_one() { # KERNEL: the suite, its output to $out/KERNEL, its verdict last
  local start
  start=$(date +%s)
  if bash tests/vm/run.sh --kernel "$1" --timeout 1200 -- bash tests/vm/guest-suite.sh --build-dir "$build" \
    >"$out/$1" 2>&1; then
    echo "== Linux $1: passed in $(($(date +%s) - start)) s" >>"$out/$1"
  else
    echo "== Linux $1: FAILED after $(($(date +%s) - start)) s" >>"$out/$1"
    return 1
  fi
}
pids=()
for k in "${kernels[@]}"; do
  echo "== Linux $k under qemu: the integration suite per backend"
  if [[ ${SOCKSCOPE_VM_SERIAL:-0} == 1 ]]; then
    run_one "$k" || true
    cat "$out/$k"
  else
    run_one "$k" &
    pids+=($!)
  fi
done
failed=()
for i in "${!kernels[@]}"; do
  k=${kernels[$i]}
  if [[ ${SOCKSCOPE_VM_SERIAL:-0} != 1 ]]; then
    wait "${pids[$i]}" || true
    echo "== Linux $k: its output"
    cat "$out/$k"
  fi
  grep -q "^== Linux $k: passed" "$out/$k" || failed+=("$k")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "tests/vm: failed on Linux ${failed[*]}" >&2
  exit 1
fi
