#!/usr/bin/env bash
# The whole test suite, from a fresh Debian bookworm machine, as root:
#   bash tests/run.sh
# Installs what is missing, builds, runs the unit, CLI and integration tests
# on this kernel, the unit and CLI tests again on a Release build
# (build-release/), then the integration suite per backend on Debian's 6.1
# and 6.12 kernels under qemu (tests/vm). SOCKSCOPE_SKIP_VM=1 leaves the
# guests out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
bash .ci/build.sh
echo "== clang-format check"
if command -v clang-format >/dev/null; then
  git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs clang-format --dry-run --Werror
fi
echo "== this kernel ($(uname -r)): unit, CLI and integration tests"
(cd build && ctest --output-on-failure --timeout 300 "$@")
# The most common build type must build too: Release (-O3), in its own
# directory, warnings as errors; only what the unit and CLI tests need.
echo "== Release build (build-release/): unit and CLI tests"
BUILD_DIR=build-release BUILD_TYPE=Release TARGETS="unit_tests cli_tests" bash .ci/build.sh
(cd build-release && ctest -L 'unit|cli' --output-on-failure --timeout 300)
if [[ ${SOCKSCOPE_SKIP_VM:-0} == 1 ]]; then
  echo "== tests/vm skipped (SOCKSCOPE_SKIP_VM=1): the fentry and kprobe backends were not tested"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "== tests/vm skipped: booting the test kernels and loading BPF in them needs root"
  exit 0
fi
echo "== Debian's kernels under qemu: the integration suite per backend"
bash tests/vm/run-all.sh
