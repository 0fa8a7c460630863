#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer harnesses (build-fuzz/, clang) and runs each for SECONDS on its committed
# seed corpus (tests/fuzz/corpus/NAME, read only) plus a working corpus in build-fuzz/corpus/NAME.
# Any crash, leak, UB, timeout (10 s per input) or out-of-memory fails the run; the input is kept
# in build-fuzz/artifacts/NAME/ (add it to tests/fuzz/corpus/NAME as a regression case).
#   tests/fuzz/run.sh SECONDS [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
B=build-fuzz
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
cmake -S tests/fuzz -B $B -G Ninja -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=None >/dev/null
cmake --build $B -j "${JOBS:-2}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do names+=("$(basename "$f" .cpp)"); done
fi
status=0
for n in "${names[@]}"; do
  mkdir -p "$B/corpus/$n" "$B/artifacts/$n"
  start=$(date +%s)
  if ! "$B/$n" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$B/artifacts/$n/" "$B/corpus/$n" "tests/fuzz/corpus/$n" >"$B/$n.log" 2>&1; then
    tail -60 "$B/$n.log"
    echo "fuzz: $n: FINDING (input in $B/artifacts/$n/)"
    status=1
    continue
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$B/$n.log")
  echo "fuzz: $n: ${execs:-?} executions in $(( $(date +%s) - start )) s, no finding"
done
exit $status
