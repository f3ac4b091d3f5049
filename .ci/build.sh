#!/usr/bin/env bash
# Configures and builds sockscope, its demos and tests, with warnings as
# errors (CI's choice: a user's build only warns). Environment:
#   BUILD_DIR   build directory (default build/)
#   BUILD_TYPE  CMake build type (default RelWithDebInfo)
#   TARGETS     targets to build, space-separated (default: all)
#   CMAKE_ARGS  more cmake arguments (e.g. ccache as the compiler launcher)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086 # CMAKE_ARGS and TARGETS are word lists
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DSOCKSCOPE_WERROR=ON ${CMAKE_ARGS:-} >/dev/null
# shellcheck disable=SC2086
cmake --build "$dir" -j"$(nproc)" ${TARGETS:+--target $TARGETS}
