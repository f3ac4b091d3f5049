#!/usr/bin/env bash
# The integration suite on Debian's own kernels, where fentry and kprobes
# work: boots 6.1 (bookworm) and 6.12 (bookworm-security) under qemu and runs
# tests/vm/guest-suite.sh in each (every backend). Run from tests/run.sh.
#   bash tests/vm/run-all.sh [KERNEL...]   (default: 6.1 6.12)
set -euo pipefail
cd "$(dirname "$0")/../.."
kernels=("$@")
[[ ${#kernels[@]} -gt 0 ]] || kernels=(6.1 6.12)
failed=()
for k in "${kernels[@]}"; do
  echo "== Linux $k under qemu: the integration suite per backend"
  start=$(date +%s)
  if bash tests/vm/run.sh --kernel "$k" --timeout 1200 -- bash tests/vm/guest-suite.sh; then
    echo "== Linux $k: passed in $(($(date +%s) - start)) s"
  else
    echo "== Linux $k: FAILED after $(($(date +%s) - start)) s"
    failed+=("$k")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "tests/vm: failed on Linux ${failed[*]}" >&2
  exit 1
fi
