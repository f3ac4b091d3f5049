#!/usr/bin/env bash
# The whole test suite, from a fresh Debian bookworm machine, as root:
#   bash tests/run.sh
# Installs what is missing, runs the
# unit, CLI and integration tests on this kernel in an ASan+UBSan build
# (build-asan/), the unit and CLI tests again on a Release build
# (build-release/) and the .deb made from it installed, run and removed in a
# throwaway namespace (tests/package), the experiments' Mermaid rendered in
# headless Chromium (tests/mermaid), the fuzz targets for a bounded time
# (build-fuzz/), then
# the integration suite per backend on Debian's 6.1 and 6.12 kernels under
# qemu (tests/vm). SOCKSCOPE_SKIP_VM=1 leaves the guests out.
set -euo pipefail
cd "$(dirname "$0")/.."
# mermaid@11 from npm (tests/mermaid), kept across clones: CI's is a fresh one.
export SOCKSCOPE_MERMAID_CACHE=${SOCKSCOPE_MERMAID_CACHE:-/var/cache/sockscope}
bash .ci/install-deps.sh
echo "== clang-format check"
if command -v clang-format >/dev/null; then
  git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs clang-format --dry-run --Werror
fi
# The host's tests run once, sanitized: every real trace in them goes
# through a sockscope built with ASan and UBSan (undefined behaviour aborts),
# and without NDEBUG, so the libraries' own assertions hold too. Clang at
# -O1: half the time GCC at -O2 takes to build it with the sanitizers.
echo "== this kernel ($(uname -r)): unit, CLI and integration tests, ASan+UBSan build (build-asan/)"
BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
-DCMAKE_C_FLAGS_DEBUG=-O1 -DCMAKE_CXX_FLAGS_DEBUG=-O1 -DSOCKSCOPE_SANITIZE=address,undefined" bash .ci/build.sh
# The Release build (the most common build type must build too: -O3,
# warnings as errors): the unit and CLI tests again, the package (cpack takes
# what is built), the browser test, the bench's smoke test and what the
# guests run; it and the fuzz targets compile meanwhile, at the lowest
# priority: the integration tests mostly wait on processes and packets.
mkdir -p build-release
(nice -n 19 bash -c 'BUILD_DIR=build-release BUILD_TYPE=Release TARGETS="unit_tests cli_tests integration_tests" bash .ci/build.sh &&
   bash tests/fuzz/run.sh --build-only') >build-release/background.log 2>&1 &
background=$!
trap 'kill $background 2>/dev/null || true' EXIT
# (The Mermaid browser test, the package test and the bench's smoke test are
# not the sanitizers': they run once, on the Release build, below.)
(cd build-asan && ctest --output-on-failure --timeout 300 -LE 'mermaid|package|bench' "$@")
echo "== Release build (build-release/): unit and CLI tests"
wait $background || { cat build-release/background.log; echo "run: the Release or fuzz build failed" >&2; exit 1; }
(cd build-release && ctest -L 'unit|cli' --output-on-failure --timeout 300)
echo "== the Release build's .deb installed, run and removed in a throwaway namespace (tests/package)"
(cd build-release && ctest -L package --output-on-failure)
echo "== explain's Mermaid rendered in headless Chromium (build-release/)"
(cd build-release && ctest -L mermaid --output-on-failure)
echo "== the bench, small, as a test (build-release/)"
(cd build-release && SOCKSCOPE_BUILD_DIR=build-release ctest -L bench --output-on-failure)
echo "== fuzz targets, 15 s each (build-fuzz/)"
bash tests/fuzz/run.sh 15
if [[ ${SOCKSCOPE_SKIP_VM:-0} == 1 ]]; then
  echo "== tests/vm skipped (SOCKSCOPE_SKIP_VM=1): the fentry and kprobe backends were not tested"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "== tests/vm skipped: booting the test kernels and loading BPF in them needs root"
  exit 0
fi
echo "== Debian's kernels under qemu: the integration suite per backend"
SOCKSCOPE_BUILD_DIR=build-release bash tests/vm/run-all.sh
