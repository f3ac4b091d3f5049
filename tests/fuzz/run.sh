#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz), each for a bounded time, from the
# checked-in seed corpus (tests/fuzz/corpus, written by make_corpus from the
# recordings in tests/unit/fixtures), with ASan and UBSan:
#   bash tests/fuzz/run.sh [SECONDS]    (default 45 per target)
#   bash tests/fuzz/run.sh --build-only
# Builds them in build-fuzz/ with clang (libFuzzer is clang's). What a run
# finds is saved under build-fuzz/artifacts/ and the run fails; the fix comes
# with a unit test made of that input. New inputs go to a temporary
# directory: the checked-in corpus changes only by make_corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-45}
build_only=0
[[ $seconds == --build-only ]] && build_only=1
[[ $build_only == 1 || $seconds =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a number, not $seconds" >&2; exit 2; }
dir=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKSCOPE_WERROR=ON \
  -DSOCKSCOPE_FUZZ=ON -DSOCKSCOPE_SANITIZE=fuzzer-no-link,address,undefined >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_decode fuzz_tracker >/dev/null
((build_only == 0)) || exit 0
mkdir -p "$dir/artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in decode tracker; do
  mkdir -p "$work/$target"
  echo "== fuzz_$target: $seconds s from $(find "tests/fuzz/corpus/$target" -type f | wc -l) seeds"
  # The first directory takes new inputs; the checked-in corpus is only read.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "$dir/tests/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/$target-" "$work/$target" "tests/fuzz/corpus/$target" >"$work/$target.log" 2>&1; then
    tail -n 60 "$work/$target.log"
    echo "fuzz_$target: FAILED; the input is in $dir/artifacts/ (make it a unit test with the fix)" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$work/$target.log" | tr '\n' ' '
  echo
done
