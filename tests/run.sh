#!/usr/bin/env bash
# The whole test suite, from a fresh Debian bookworm machine, as root:
#   bash tests/run.sh
# Installs what is missing, builds, then runs unit, CLI and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
bash .ci/build.sh
echo "== clang-format check"
if command -v clang-format >/dev/null; then
  git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs clang-format --dry-run --Werror
fi
cd build
ctest --output-on-failure --timeout 300 "$@"
