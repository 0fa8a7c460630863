#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer harnesses (build-fuzz/, clang) and runs each for SECONDS on its committed
# seed corpus (tests/fuzz/corpus/NAME, read only: every file in it, regression inputs included, is
# run first) plus a working corpus in build-fuzz/corpus/NAME. FUZZ_JOBS harnesses run at once
# (default 2: one per core of the CI machine), each a process of its own for its full SECONDS.
# Prints per harness the executions, the time and the finding; any crash, leak, UB, timeout (10 s
# per input), out-of-memory or a run that executed nothing fails the run. A finding's input is
# kept in build-fuzz/artifacts/NAME/ and its path printed with the command that replays it (once
# fixed, add it to tests/fuzz/corpus/NAME as a regression case: `make test` replays that folder).
#   tests/fuzz/run.sh SECONDS [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
jobs=${FUZZ_JOBS:-2}
case "$seconds$jobs" in
  *[!0-9]*) echo "fuzz: SECONDS ($seconds) and FUZZ_JOBS ($jobs) must be whole numbers" >&2; exit 2 ;;
esac
if [ "$seconds" -lt 1 ] || [ "$jobs" -lt 1 ]; then
  echo "fuzz: SECONDS ($seconds) and FUZZ_JOBS ($jobs) must be at least 1" >&2
  exit 2
fi
B=build-fuzz
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
build_start=$SECONDS
cmake -S tests/fuzz -B $B -G Ninja -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=None >/dev/null
cmake --build $B -j "${JOBS:-2}"
echo "fuzz: harnesses built in $((SECONDS - build_start)) s"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do names+=("$(basename "$f" .cpp)"); done
fi

# One harness: its log in $B/NAME.log, one summary line in $B/NAME.result; exit status 1 on a finding.
fuzz_one() {
  local n=$1 start=$SECONDS seeds="tests/fuzz/corpus/$1"
  if [ ! -x "$B/$n" ]; then
    echo "fuzz: $n: FAILED: no harness $B/$n (tests/fuzz/$n.cpp)" | tee "$B/$n.result"
    return 1
  fi
  if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
    echo "fuzz: $n: FAILED: no seed corpus in $seeds" | tee "$B/$n.result"
    return 1
  fi
  mkdir -p "$B/corpus/$n" "$B/artifacts/$n"
  rm -f "$B/artifacts/$n"/*
  local rc=0
  "$B/$n" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$B/artifacts/$n/" "$B/corpus/$n" "$seeds" >"$B/$n.log" 2>&1 || rc=$?
  local execs found took=$((SECONDS - start))
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$B/$n.log")
  found=$(ls "$B/artifacts/$n"/* 2>/dev/null || true)
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    {
      tail -60 "$B/$n.log"
      echo "fuzz: $n: FINDING after ${execs:-?} executions in $took s (exit $rc); input: ${found:-none written (see $B/$n.log)}"
      for f in $found; do echo "fuzz: replay with: $B/$n $f"; done
    } >"$B/$n.result"
    cat "$B/$n.result"
    return 1
  fi
  if [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
    echo "fuzz: $n: FAILED: no executions counted in $took s (see $B/$n.log)" | tee "$B/$n.result"
    return 1
  fi
  echo "fuzz: $n: $execs executions in $took s ($((execs / (took > 0 ? took : 1))) per second), no finding" |
    tee "$B/$n.result"
}

fuzz_start=$SECONDS
declare -A pid_of=()
failed=()
reap() {  # wait for one running harness; note it when it failed
  local done_pid rc=0
  wait -n -p done_pid "${!pid_of[@]}" || rc=$?
  [ $rc -eq 0 ] || failed+=("${pid_of[$done_pid]}")
  unset "pid_of[$done_pid]"
}
for n in "${names[@]}"; do
  while [ ${#pid_of[@]} -ge "$jobs" ]; do reap; done
  fuzz_one "$n" &
  pid_of[$!]=$n
done
while [ ${#pid_of[@]} -gt 0 ]; do reap; done

total=0
for n in "${names[@]}"; do
  e=$(awk '/stat::number_of_executed_units/ {print $2}' "$B/$n.log" 2>/dev/null || true)
  total=$((total + ${e:-0}))
done
echo "fuzz: ${#names[@]} harnesses, $seconds s each, $jobs at once: $total executions in $((SECONDS - fuzz_start)) s;" \
  "${#failed[@]} with a finding${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
